// The conversation actions against a scripted server: reattaching to a reply still being
// generated, and a send whose stream drops and resumes.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message } from '../api/types';
import { TOKENS_KEY } from '../api/tokens';
import { conversationStore, getConversation } from './conversationStore';
import { openConversation, sendMessage } from './conversation';
import { onReplySettled } from './streamAttach';

const encoder = new TextEncoder();

function msg(id: string, role: Message['role'], extra: Partial<Message> = {}): Message {
  return {
    id,
    session_id: 's1',
    topic_id: 't1',
    parent_id: null,
    role,
    content: '',
    reasoning: '',
    model: 'gpt-4o-mini',
    status: 'complete',
    error: null,
    usage: null,
    cost: null,
    currency: 'USD',
    sources: [],
    siblings: { index: 0, count: 1, ids: [id] },
    created_at: 1,
    updated_at: 1,
    ...extra,
  };
}

function stream(chunks: string[], end: 'close' | 'error' = 'close'): Response {
  let i = 0;
  return new Response(
    new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++] as string));
        else if (end === 'close') controller.close();
        else controller.error(new TypeError('network'));
      },
    }),
    { headers: { 'Content-Type': 'text/event-stream' } },
  );
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const ev = (id: number, type: string, data: unknown) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;

function settled(): Promise<Message | undefined> {
  return new Promise((resolve) => {
    const off = onReplySettled((message) => {
      off();
      resolve(message);
    });
  });
}

let routes: ((url: string, init: RequestInit) => Response | undefined)[] = [];
const requests: { url: string; lastEventId: string | null }[] = [];

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  conversationStore.set({ byTopic: {}, live: {}, reconnecting: {} });
  routes = [];
  requests.length = 0;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    requests.push({ url, lastEventId: new Headers(init.headers).get('Last-Event-ID') });
    for (const route of routes) {
      const answer = route(url, init);
      if (answer) return answer;
    }
    return json({ error: { code: 'not_found', message: url } }, 404);
  });
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('conversation', () => {
  it('reattaches to a reply still streaming when the topic is opened, replaying it from the start', async () => {
    const user = msg('u1', 'user', { content: 'Hi' });
    // The row holds what the job had written when the page loaded.
    const reply = msg('a1', 'assistant', { parent_id: 'u1', status: 'streaming', content: 'Hel' });
    const final = { ...reply, status: 'complete' as const, content: 'Hello there', usage: { input_tokens: 2, output_tokens: 2 }, cost: '0.00001' };
    routes.push((url) => (url.startsWith('/api/v1/chat/sessions/s1/messages') ? json({ messages: [user, reply], has_more: false }) : undefined));
    routes.push((url) =>
      url === '/api/v1/chat/streams/a1'
        ? stream([ev(1, 'text', { delta: 'Hel' }), ev(2, 'text', { delta: 'lo there' }), ev(3, 'done', { message: final })])
        : undefined,
    );
    const done = settled();
    await openConversation('s1', 't1');
    expect(conversationStore.get().live.a1).toBe(true);
    const message = await done;
    expect(message?.content).toBe('Hello there');
    const held = getConversation('t1')?.messages;
    expect(held?.map((m) => [m.id, m.status, m.content])).toEqual([
      ['u1', 'complete', 'Hi'],
      ['a1', 'complete', 'Hello there'],
    ]);
    expect(conversationStore.get().live.a1).toBeUndefined();
    expect(requests.find((r) => r.url === '/api/v1/chat/streams/a1')?.lastEventId).toBeNull();
  });

  it('reattaching to a reply that waits for approval rebuilds its calls from the replay: waiting, then the result', async () => {
    const call = { id: 'call_1', function: 'echo', server: 'default/everything', tool: 'echo', arguments: { message: 'mock' }, output: '', error: null, duration_ms: 0 };
    const user = msg('u5', 'user', { topic_id: 't5', content: 'Echo something' });
    // The row lags: it still holds a record the replay supersedes.
    const reply = msg('a5', 'assistant', { topic_id: 't5', parent_id: 'u5', status: 'streaming', tool_calls: [{ ...call, status: 'running' }] });
    const ended = { ...call, status: 'ok', output: 'Echo: mock', duration_ms: 12 };
    routes.push((url) => (url.startsWith('/api/v1/chat/sessions/s1/messages') ? json({ messages: [user, reply], has_more: false }) : undefined));
    let resume: () => void = () => undefined;
    const resumed = new Promise<void>((resolve) => (resume = resolve));
    const chunks = [
      ev(1, 'tool_call', { ...call, status: 'awaiting_approval' }),
      ev(2, 'tool_result', ended),
      ev(3, 'text', { delta: 'Mock result Echo: mock' }),
      ev(4, 'done', { message: { ...reply, status: 'complete', content: 'Mock result Echo: mock', tool_calls: [ended] } }),
    ];
    routes.push((url) => {
      if (url !== '/api/v1/chat/streams/a5') return undefined;
      let i = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          async pull(controller) {
            // The job waits for the user after the first event.
            if (i === 1) await resumed;
            if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++] as string));
            else controller.close();
          },
        }),
        { headers: { 'Content-Type': 'text/event-stream' } },
      );
    });
    const done = settled();
    await openConversation('s1', 't5');
    await vi.waitFor(() => expect(getConversation('t5')?.messages[1]?.tool_calls?.map((c) => c.status)).toEqual(['awaiting_approval']));
    resume();
    await done;
    const held = getConversation('t5')?.messages[1];
    expect(held?.tool_calls).toEqual([ended]);
    expect(held?.content).toBe('Mock result Echo: mock');
  });

  it('a send shows both messages at once and resumes the reply after a drop with Last-Event-ID', async () => {
    const topic = { id: 't2', session_id: 's1', title: '', active_leaf_id: 'a2', created_at: 1, updated_at: 1 };
    const user = msg('u2', 'user', { topic_id: 't2', content: 'Question' });
    const reply = msg('a2', 'assistant', { topic_id: 't2', parent_id: 'u2', status: 'streaming' });
    routes.push((url, init) =>
      url === '/api/v1/chat/sessions/s1/messages' && init.method === 'POST'
        ? json({ topic, user_message: user, assistant_message: reply, stream_id: 'a2' }, 201)
        : undefined,
    );
    const connections = [
      () => stream([ev(1, 'text', { delta: 'An' }), ev(2, 'text', { delta: 'sw' })], 'error'),
      () => stream([ev(3, 'text', { delta: 'er' }), ev(4, 'done', { message: { ...reply, status: 'complete', content: 'Answer' } })]),
    ];
    routes.push((url) => (url === '/api/v1/chat/streams/a2' ? (connections.shift() as () => Response)() : undefined));
    const done = settled();
    const created = await sendMessage('s1', undefined, 'Question');
    expect(created.id).toBe('t2');
    expect(getConversation('t2')?.messages.map((m) => m.id)).toEqual(['u2', 'a2']);
    await done;
    expect(getConversation('t2')?.messages[1]).toMatchObject({ status: 'complete', content: 'Answer' });
    const streamRequests = requests.filter((r) => r.url === '/api/v1/chat/streams/a2');
    expect(streamRequests.map((r) => r.lastEventId)).toEqual([null, '2']);
  });

  it('a page fetched while a send landed does not overwrite the send', async () => {
    let release: (r: Response) => void = () => undefined;
    routes.push((url, init) =>
      url.startsWith('/api/v1/chat/sessions/s1/messages?') && (init.method ?? 'GET') === 'GET'
        ? (new Promise<Response>((resolve) => (release = resolve)) as unknown as Response)
        : undefined,
    );
    const topic = { id: 't3', session_id: 's1', title: '', active_leaf_id: null, created_at: 1, updated_at: 1 };
    const user = msg('u3', 'user', { topic_id: 't3' });
    const reply = msg('a3', 'assistant', { topic_id: 't3', parent_id: 'u3', status: 'complete', content: 'x' });
    routes.push((url, init) =>
      url === '/api/v1/chat/sessions/s1/messages' && init.method === 'POST'
        ? json({ topic, user_message: user, assistant_message: reply, stream_id: 'a3' }, 201)
        : undefined,
    );
    routes.push((url) => (url === '/api/v1/chat/streams/a3' ? stream([ev(1, 'done', { message: reply })]) : undefined));
    const opening = openConversation('s1', 't3');
    await sendMessage('s1', 't3', 'hello');
    release(json({ messages: [], has_more: false }));
    await opening;
    expect(getConversation('t3')?.messages.map((m) => m.id)).toEqual(['u3', 'a3']);
  });

  it('a send carries its attachment ids, and no attachments field when there are none', async () => {
    const bodies: unknown[] = [];
    const topic = { id: 't4', session_id: 's1', title: '', active_leaf_id: null, created_at: 1, updated_at: 1 };
    const user = msg('u4', 'user', { topic_id: 't4' });
    const reply = msg('a4', 'assistant', { topic_id: 't4', parent_id: 'u4', status: 'complete', content: 'x' });
    routes.push((url, init) => {
      if (url !== '/api/v1/chat/sessions/s1/messages' || init.method !== 'POST') return undefined;
      bodies.push(JSON.parse(String(init.body)));
      return json({ topic, user_message: user, assistant_message: reply, stream_id: 'a4' }, 201);
    });
    routes.push((url) => (url === '/api/v1/chat/streams/a4' ? stream([ev(1, 'done', { message: reply })]) : undefined));
    await sendMessage('s1', 't4', 'with files', ['f1', 'f2']);
    await sendMessage('s1', 't4', 'without');
    expect(bodies).toEqual([
      { content: 'with files', topic_id: 't4', attachments: ['f1', 'f2'] },
      { content: 'without', topic_id: 't4' },
    ]);
  });

  it('a send uses what the tab shows: its model and the last message on screen, not a newer state', async () => {
    const bodies: unknown[] = [];
    const topic = { id: 't5', session_id: 's1', title: '', active_leaf_id: null, created_at: 1, updated_at: 1 };
    const user = msg('u5', 'user', { topic_id: 't5' });
    const reply = msg('a5', 'assistant', { topic_id: 't5', parent_id: 'u5', status: 'complete', content: 'x' });
    routes.push((url, init) => {
      if (url !== '/api/v1/chat/sessions/s1/messages' || init.method !== 'POST') return undefined;
      bodies.push(JSON.parse(String(init.body)));
      return json({ topic, user_message: user, assistant_message: reply, stream_id: 'a5' }, 201);
    });
    routes.push((url) => (url === '/api/v1/chat/streams/a5' ? stream([ev(1, 'done', { message: reply })]) : undefined));
    await sendMessage('s1', 't5', 'seen', [], { model: 'gpt-4o-mini', parentId: 'a4' });
    // A new topic has no parent to name.
    await sendMessage('s1', undefined, 'fresh', [], { model: 'gpt-4o-mini', parentId: 'ignored' });
    expect(bodies).toEqual([
      { content: 'seen', topic_id: 't5', parent_id: 'a4', model: 'gpt-4o-mini' },
      { content: 'fresh', model: 'gpt-4o-mini' },
    ]);
  });
});
