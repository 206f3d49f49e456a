import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../api/tokens';
import type { ChatPreferences, Model } from '../api/types';
import { chatDataStore } from '../state/chatData';
import { DefaultModelSection } from './DefaultModelSection';

afterEach(cleanup);

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const model = (id: string): Model => ({ id, provider: 'openai', context_window: null, price: null });

let models: Model[];
let prefs: ChatPreferences;
let puts: unknown[];
/** The answer of the next PUT; by default the server takes the choice. */
let putAnswer: ((body: { default_model: string | null }) => Response | Promise<Response>) | null;
let preferencesStatus: number;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  chatDataStore.set({ models: [], modelsLoaded: false });
  models = [model('cheap-1'), model('big-1'), model('mid-1')];
  prefs = { default_model: null, blank_chat_model: 'cheap-1' };
  puts = [];
  putAnswer = null;
  preferencesStatus = 200;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    if (url === '/api/v1/models' && method === 'GET') return json({ models });
    if (url === '/api/v1/chat/preferences' && preferencesStatus === 404) return json({ error: { code: 'not_found', message: 'no route' } }, 404);
    if (url === '/api/v1/chat/preferences' && method === 'GET') return json(prefs);
    if (url === '/api/v1/chat/preferences' && method === 'PUT') {
      const body = JSON.parse(String(init.body)) as { default_model: string | null };
      puts.push(body);
      if (putAnswer) return putAnswer(body);
      prefs = { default_model: body.default_model, blank_chat_model: body.default_model ?? 'cheap-1' };
      return json(prefs);
    }
    return json({ error: { code: 'not_found', message: url } }, 404);
  });
});

const select = () => screen.getByLabelText('Model for blank chats') as HTMLSelectElement;
const optionLabels = () => Array.from(select().options).map((o) => o.textContent);
const effective = () => screen.getByTestId('blank-chat-model');

async function shown() {
  render(<DefaultModelSection />);
  await screen.findByLabelText('Model for blank chats');
  await waitFor(() => expect(select().options).toHaveLength(4));
}

describe('the Default model section', () => {
  it('offers Automatic and the models the user may use, and says what a blank chat starts with now', async () => {
    await shown();
    expect(optionLabels()).toEqual(['Automatic (your group\'s default, or the cheapest model)', 'cheap-1', 'big-1', 'mid-1']);
    expect(select().value).toBe('');
    expect(effective().textContent).toBe('A blank chat starts with cheap-1 now.');
    // The line is the select's description, and is announced when it changes.
    expect(select().getAttribute('aria-describedby')).toBe(effective().id);
    expect(effective().getAttribute('aria-live')).toBe('polite');
  });

  it('selects the saved default', async () => {
    prefs = { default_model: 'mid-1', blank_chat_model: 'mid-1' };
    await shown();
    expect(select().value).toBe('mid-1');
    expect(effective().textContent).toBe('A blank chat starts with mid-1 now.');
  });

  it('puts a picked model and shows the blank chat model the server answers', async () => {
    putAnswer = () => json({ default_model: 'big-1', blank_chat_model: 'big-1' });
    await shown();
    fireEvent.change(select(), { target: { value: 'big-1' } });
    await waitFor(() => expect(effective().textContent).toBe('A blank chat starts with big-1 now.'));
    expect(puts).toEqual([{ default_model: 'big-1' }]);
    expect(select().value).toBe('big-1');
    expect(effective().getAttribute('data-model')).toBe('big-1');
  });

  it('puts null for Automatic', async () => {
    prefs = { default_model: 'big-1', blank_chat_model: 'big-1' };
    await shown();
    fireEvent.change(select(), { target: { value: '' } });
    await waitFor(() => expect(effective().textContent).toBe('A blank chat starts with cheap-1 now.'));
    expect(puts).toEqual([{ default_model: null }]);
    expect(select().value).toBe('');
  });

  it('shows a refusal (400) beside the select, marks it invalid and goes back to the saved choice', async () => {
    prefs = { default_model: 'mid-1', blank_chat_model: 'mid-1' };
    putAnswer = () => json({ error: { code: 'invalid_request', message: 'model: `big-1` is not a model you may use' } }, 400);
    await shown();
    fireEvent.change(select(), { target: { value: 'big-1' } });
    const error = await screen.findByTestId('default-model-error');
    expect(error.getAttribute('role')).toBe('alert');
    expect(error.textContent).toBe('You may not use big-1. Pick another model.');
    expect(select().getAttribute('aria-invalid')).toBe('true');
    expect(select().getAttribute('aria-describedby')).toContain(error.id);
    expect(select().value).toBe('mid-1');
    expect(effective().textContent).toBe('A blank chat starts with mid-1 now.');

    // The next choice clears it.
    putAnswer = null;
    fireEvent.change(select(), { target: { value: 'cheap-1' } });
    await waitFor(() => expect(screen.queryByTestId('default-model-error')).toBeNull());
    expect(select().getAttribute('aria-invalid')).toBeNull();
  });

  it('keeps only the newest answer when choices overlap', async () => {
    let releaseFirst: (() => void) | undefined;
    putAnswer = (body) =>
      body.default_model === 'big-1'
        ? new Promise<Response>((resolve) => {
            releaseFirst = () => resolve(json({ default_model: 'big-1', blank_chat_model: 'big-1' }));
          })
        : json({ default_model: 'mid-1', blank_chat_model: 'mid-1' });
    await shown();
    fireEvent.change(select(), { target: { value: 'big-1' } });
    await waitFor(() => expect(releaseFirst).toBeDefined());
    fireEvent.change(select(), { target: { value: 'mid-1' } });
    await waitFor(() => expect(effective().textContent).toBe('A blank chat starts with mid-1 now.'));
    releaseFirst?.();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(select().value).toBe('mid-1');
    expect(effective().textContent).toBe('A blank chat starts with mid-1 now.');
  });

  it('shows a saved default the user may no longer use as such, with what a blank chat gets instead', async () => {
    prefs = { default_model: 'gone-1', blank_chat_model: 'cheap-1' };
    render(<DefaultModelSection />);
    await waitFor(() => expect(optionLabels()).toContain('gone-1 (no longer available to you)'));
    expect(select().value).toBe('gone-1');
    expect(effective().textContent).toBe('A blank chat starts with cheap-1 now.');
  });

  it('is not shown against a server that has no preferences (404)', async () => {
    preferencesStatus = 404;
    render(<DefaultModelSection />);
    expect(screen.getByTestId('default-model').textContent).toContain('Loading');
    await waitFor(() => expect(screen.queryByTestId('default-model')).toBeNull());
    expect(screen.queryByLabelText('Model for blank chats')).toBeNull();
  });
});
