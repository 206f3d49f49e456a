import { beforeEach, describe, expect, it, vi } from 'vitest';
import { chatApi } from './chat';
import { ApiError } from './http';
import { TOKENS_KEY } from './tokens';

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

let calls: { url: string; method: string; body: unknown; auth: string | null }[] = [];
let answer: () => Response;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  calls = [];
  answer = () => json({});
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    calls.push({
      url: String(input),
      method: init.method ?? 'GET',
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      auth: new Headers(init.headers).get('Authorization'),
    });
    return answer();
  });
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
