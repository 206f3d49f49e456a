import { beforeEach, describe, expect, it } from 'vitest';
import { chatApi } from './chat';
import { ApiError } from './http';
import { json, type RecordedCall, stubRecordingFetch } from './testing';

let calls: RecordedCall[] = [];
let answer: () => Response;

beforeEach(() => {
  calls = [];
  answer = () => json({});
  stubRecordingFetch((call) => calls.push(call), () => answer());
});

describe('the chat preferences API', () => {
  it('reads the default model and what a blank chat starts with', async () => {
    const prefs = { default_model: null, blank_chat_model: 'cheap-1' };
    answer = () => json(prefs);
    await expect(chatApi.getPreferences()).resolves.toEqual(prefs);
    expect(calls).toEqual([{ url: '/api/v1/chat/preferences', method: 'GET', body: undefined, auth: 'Bearer a.b.c' }]);
  });

  it('puts a chosen model as default_model', async () => {
    answer = () => json({ default_model: 'big-1', blank_chat_model: 'big-1' });
    await expect(chatApi.setDefaultModel('big-1')).resolves.toEqual({ default_model: 'big-1', blank_chat_model: 'big-1' });
    expect(calls).toEqual([{ url: '/api/v1/chat/preferences', method: 'PUT', body: { default_model: 'big-1' }, auth: 'Bearer a.b.c' }]);
  });

  it('puts an explicit null for Automatic, not an empty body', async () => {
    answer = () => json({ default_model: null, blank_chat_model: 'cheap-1' });
    await chatApi.setDefaultModel(null);
    expect(calls[0]).toMatchObject({ method: 'PUT', body: { default_model: null } });
    expect(Object.keys(calls[0]?.body as object)).toEqual(['default_model']);
  });

  it("gives a refused model as an ApiError with the server's message", async () => {
    answer = () => json({ error: { code: 'invalid_request', message: 'model: `secret-1` is not a model you may use' } }, 400);
    const error = await chatApi.setDefaultModel('secret-1').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, message: 'model: `secret-1` is not a model you may use' });
  });
});
