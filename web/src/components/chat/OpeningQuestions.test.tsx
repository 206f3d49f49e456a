import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../../api/tokens';
import type { Message, Session } from '../../api/types';
import { conversationStore } from '../../chat/conversationStore';
import { ChatView } from './ChatView';

const session: Session = {
  id: 's1',
  title: 'Helper',
  avatar: '🤖',
  description: '',
  agent_id: 'ag1',
  system_prompt: '',
  model: 'gpt-4o-mini',
  temperature: null,
  opening_message: 'Hi! Ask me anything.',
  opening_questions: ['What can you do?', 'Summarize a text for me'],
  pinned: false,
  group: '',
  created_at: 1,
  updated_at: 1,
};

const message = (id: string, role: Message['role'], extra: Partial<Message> = {}): Message => ({
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
  siblings: null,
  created_at: 1,
  updated_at: 1,
  ...extra,
});

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

let sent: unknown[] = [];
let refuse = false;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  conversationStore.set({ byTopic: {}, live: {}, reconnecting: {} });
  sent = [];
  refuse = false;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    if (url === '/api/v1/chat/sessions/s1/messages' && init.method === 'POST') {
      const body = JSON.parse(String(init.body)) as { content: string };
      sent.push(body);
      if (refuse) return json({ error: { code: 'insufficient_quota', message: 'Your balance is used up.' } }, 402);
      const topic = { id: 't1', session_id: 's1', title: '', active_leaf_id: 'a1', created_at: 2, updated_at: 2 };
      return json(
        {
          topic,
          user_message: message('u1', 'user', { content: body.content }),
          assistant_message: message('a1', 'assistant', { parent_id: 'u1', status: 'streaming' }),
          stream_id: 'a1',
        },
        201,
      );
    }
    if (url.startsWith('/api/v1/chat/streams/a1')) {
      const done = message('a1', 'assistant', { parent_id: 'u1', content: 'I can help.' });
      return new Response(`id: 1\nevent: done\ndata: ${JSON.stringify({ message: done })}\n\n`, { headers: { 'Content-Type': 'text/event-stream' } });
    }
    if (url.startsWith('/api/v1/chat/sessions/s1/messages')) return json({ messages: [], has_more: false });
    return json({ error: { code: 'not_found', message: url } }, 404);
  });
});

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
});

function Where() {
  return <span data-testid="where">{useLocation().pathname}</span>;
}

function showNewTopic(value: Session = session) {
  return render(
    <MemoryRouter initialEntries={['/chat/s1/new']}>
      <Routes>
        <Route path="/chat/:session/*" element={<ChatView session={value} topicId={undefined} resolving={false} />} />
      </Routes>
      <Where />
    </MemoryRouter>,
  );
}

describe('opening questions', () => {
  it('are buttons in a labelled list under the opening message', () => {
    showNewTopic();
    const opening = screen.getByTestId('opening-message');
    expect(opening.textContent).toContain('Hi! Ask me anything.');
    const list = within(opening).getByRole('list', { name: 'Suggested questions' });
    const buttons = within(list).getAllByRole('button');
    expect(buttons.map((b) => b.textContent)).toEqual(['What can you do?', 'Summarize a text for me']);
    expect(buttons.every((b) => b.getAttribute('type') === 'button')).toBe(true);
  });

  it('show without an opening message too', () => {
    showNewTopic({ ...session, opening_message: null });
    const opening = screen.getByTestId('opening-message');
    expect(opening.querySelector('.message__bubble')).toBeNull();
    expect(within(opening).getAllByTestId('opening-question')).toHaveLength(2);
  });

  it('are absent when the session has none (or an older server sends no field)', () => {
    const { opening_questions: _none, ...legacy } = session;
    showNewTopic({ ...(legacy as Session), opening_message: null });
    expect(screen.queryByTestId('opening-message')).toBeNull();
    expect(screen.getByTestId('chat-empty')).toBeTruthy();
  });

  it('send the clicked question as the user message, opening the new topic', async () => {
    showNewTopic();
    await act(async () => {
      fireEvent.click(screen.getAllByTestId('opening-question')[0] as HTMLElement);
    });
    // A send carries the model the header shows (ChatView's SendView).
    expect(sent).toEqual([{ content: 'What can you do?', model: 'gpt-4o-mini' }]);
    await vi.waitFor(() => expect(screen.getByTestId('where').textContent).toBe('/chat/s1/t1'));
  });

  it('a refused question waits in the message box for a retry', async () => {
    refuse = true;
    showNewTopic();
    await act(async () => {
      fireEvent.click(screen.getAllByTestId('opening-question')[1] as HTMLElement);
    });
    expect(sent).toEqual([{ content: 'Summarize a text for me', model: 'gpt-4o-mini' }]);
    expect(screen.getByTestId('send-refusal')).toBeTruthy();
    expect((screen.getByTestId('composer-input') as HTMLTextAreaElement).value).toBe('Summarize a text for me');
  });
});
