import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Message, ToolCall } from '../../api/types';
import { toastStore } from '../../state/toasts';
import { MessageItem } from './MessageItem';

afterEach(cleanup);

const echo: ToolCall = {
  id: 'call_1',
  function: 'echo',
  server: 'default/everything',
  tool: 'echo',
  arguments: { message: 'mock' },
  status: 'ok',
  output: 'Echo: mock',
  error: null,
  duration_ms: 12,
};

const reply: Message = {
  id: 'a1',
  session_id: 's',
  topic_id: 't',
  parent_id: 'u1',
  role: 'assistant',
  content: 'Mock result Echo: mock',
  reasoning: '',
  model: 'm',
  status: 'complete',
  error: null,
  usage: null,
  cost: null,
  currency: 'USD',
  sources: [],
  tool_calls: [echo],
  siblings: null,
  created_at: 1,
  updated_at: 1,
};

const noop = () => undefined;
const actions = { onCopy: noop, onEdit: noop, onRegenerate: noop, onDelete: noop, onSwitch: noop };

function show(message: Message) {
  return render(<MessageItem message={message} assistantAvatar="🤖" assistantName="Bot" live={false} reconnecting={0} busy={false} {...actions} />);
}

const card = () => screen.getByTestId('tool-call');
/** Clicks the summary; the details element reports the toggle a task later, as browsers do. */
async function expand() {
  fireEvent.click(within(card()).getByTestId('tool-call-toggle'));
  await act(() => new Promise((resolve) => setTimeout(resolve, 0)));
}

describe('a tool call card', () => {
  it('is collapsed by default: tool, server, status in words and duration, no arguments or output', () => {
    show(reply);
    const summary = within(card()).getByTestId('tool-call-toggle');
    expect(within(summary).getByTestId('tool-call-name').textContent).toBe('echo');
    expect(within(summary).getByTestId('tool-call-server').textContent).toBe('default/everything');
    expect(within(summary).getByTestId('tool-call-status').textContent).toBe('Done');
    expect(within(summary).getByTestId('tool-call-status').querySelector('svg')).not.toBeNull();
    expect(within(summary).getByTestId('tool-call-duration').textContent).toBe('12 ms');
    expect((card().querySelector('details') as HTMLDetailsElement).open).toBe(false);
    expect(screen.queryByTestId('tool-call-output')).toBeNull();
    expect(screen.queryByTestId('tool-call-approval')).toBeNull();
  });

  it('expands to the pretty-printed arguments and the output in focusable scrolling blocks', async () => {
    show(reply);
    await expand();
    expect((card().querySelector('details') as HTMLDetailsElement).open).toBe(true);
    const args = screen.getByTestId('tool-call-arguments');
    expect(args.tagName).toBe('PRE');
    expect(args.textContent).toBe('{\n  "message": "mock"\n}');
    expect(args.getAttribute('tabindex')).toBe('0');
    expect(args.getAttribute('aria-label')).toBe('Arguments of echo');
    expect(screen.getByTestId('tool-call-output').textContent).toBe('Echo: mock');
    await expand();
    expect(screen.queryByTestId('tool-call-output')).toBeNull();
  });

  it('sits above the answer text, one card per call in the order they ran', () => {
    show({ ...reply, tool_calls: [echo, { ...echo, id: 'call_2', tool: 'add', function: 'add' }] });
    const cards = screen.getAllByTestId('tool-call');
    expect(cards.map((c) => c.getAttribute('data-call-id'))).toEqual(['call_1', 'call_2']);
    const content = screen.getByTestId('message-content');
    expect((cards[1] as HTMLElement).compareDocumentPosition(content) & Node.DOCUMENT_POSITION_FOLLOWING).not.toBe(0);
  });

  it('shows a failed call with its error code and message', async () => {
    show({ ...reply, tool_calls: [{ ...echo, status: 'error', output: '', error: { code: 'timeout', message: 'The tool took longer than 30s.' }, duration_ms: 30_000 }] });
    expect(screen.getByTestId('tool-call-status').textContent).toBe('Failed');
    expect(screen.getByTestId('tool-call-duration').textContent).toBe('30 s');
    await expand();
    expect(screen.getByTestId('tool-call-error').textContent).toBe('timeout: The tool took longer than 30s.');
    expect(screen.queryByTestId('tool-call-output')).toBeNull();
  });

  it('shows a declined call as declined, with no output', async () => {
    show({ ...reply, tool_calls: [{ ...echo, status: 'rejected', output: '', error: { code: 'rejected', message: 'The user declined this tool call.' }, duration_ms: 0 }] });
    expect(card().getAttribute('data-status')).toBe('rejected');
    expect(screen.getByTestId('tool-call-status').textContent).toBe('Declined');
    expect(screen.queryByTestId('tool-call-duration')).toBeNull();
    await expand();
    expect(screen.getByTestId('tool-call-body').textContent).toContain('You declined this call, so the tool did not run.');
    expect(screen.queryByTestId('tool-call-output')).toBeNull();
    expect(screen.queryByTestId('tool-call-error')).toBeNull();
  });

  it('says when a call was declined because nobody approved it in time', async () => {
    show({ ...reply, tool_calls: [{ ...echo, status: 'rejected', output: '', error: { code: 'approval_timeout', message: 'late' }, duration_ms: 0 }] });
    await expand();
    expect(screen.getByTestId('tool-call-body').textContent).toContain('Nobody approved this call in time');
  });

  it('shows a running call as busy in words instead of the typing dots', () => {
    show({ ...reply, status: 'streaming', content: '', tool_calls: [{ ...echo, status: 'running', output: '', duration_ms: 0 }] });
    expect(card().getAttribute('aria-busy')).toBe('true');
    expect(screen.getByTestId('tool-call-status').textContent).toBe('Running…');
    expect(screen.queryByTestId('tool-call-duration')).toBeNull();
    expect(screen.queryByRole('status', { name: 'Generating a reply' })).toBeNull();
  });
});

describe('approving a tool call', () => {
  const awaiting: Message = { ...reply, status: 'streaming', content: '', tool_calls: [{ ...echo, status: 'awaiting_approval', output: '', duration_ms: 0 }] };
  let calls: { url: string; method: string; body: unknown }[] = [];
  let answer: () => Promise<Response>;

  beforeEach(() => {
    calls = [];
    toastStore.set({ toasts: [] });
    answer = async () => new Response(JSON.stringify({ status: 'approved' }), { status: 202, headers: { 'Content-Type': 'application/json' } });
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
      calls.push({ url: String(input), method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : null });
      return answer();
    });
  });

  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('shows the arguments and both buttons; Approve posts the decision and both buttons stay disabled', async () => {
    show(awaiting);
    expect(screen.getByTestId('tool-call-status').textContent).toBe('Needs your approval');
    expect(screen.getByTestId('tool-call-arguments').textContent).toContain('"message": "mock"');
    let release: () => void = () => undefined;
    const held = answer;
    answer = () => new Promise((resolve) => (release = () => void held().then(resolve)));
    fireEvent.click(screen.getByTestId('tool-call-approve'));
    expect(calls).toEqual([{ url: '/api/v1/chat/messages/a1/tool-calls/call_1/approval', method: 'POST', body: { approve: true } }]);
    // In flight: a second click sends nothing.
    expect((screen.getByTestId('tool-call-approve') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('tool-call-reject') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('tool-call-reject'));
    expect(calls).toHaveLength(1);
    await act(async () => release());
    await vi.waitFor(() => expect(screen.getByTestId('tool-call-approval').textContent).toContain('Approved. Waiting for the tool…'));
    expect((screen.getByTestId('tool-call-approve') as HTMLButtonElement).disabled).toBe(true);
    expect((screen.getByTestId('tool-call-reject') as HTMLButtonElement).disabled).toBe(true);
  });

  it('Reject posts approve: false', async () => {
    answer = async () => new Response(JSON.stringify({ status: 'rejected' }), { status: 202, headers: { 'Content-Type': 'application/json' } });
    show(awaiting);
    await act(async () => {
      fireEvent.click(screen.getByTestId('tool-call-reject'));
    });
    expect(calls).toEqual([{ url: '/api/v1/chat/messages/a1/tool-calls/call_1/approval', method: 'POST', body: { approve: false } }]);
    expect(screen.getByTestId('tool-call-approval').textContent).toContain('Declined.');
  });

  it('a refused decision says so in a toast and enables the buttons again', async () => {
    answer = async () => new Response(JSON.stringify({ error: { code: 'not_found', message: 'message not found' } }), { status: 404, headers: { 'Content-Type': 'application/json' } });
    show(awaiting);
    await act(async () => {
      fireEvent.click(screen.getByTestId('tool-call-approve'));
    });
    expect(toastStore.get().toasts.map((t) => [t.kind, t.text])).toEqual([['error', 'This call no longer waits for approval.']]);
    expect((screen.getByTestId('tool-call-approve') as HTMLButtonElement).disabled).toBe(false);
  });

  it('follows the record, not the click: the result replaces the buttons with the outcome', async () => {
    const view = show(awaiting);
    await act(async () => {
      fireEvent.click(screen.getByTestId('tool-call-approve'));
    });
    view.rerender(<MessageItem message={{ ...awaiting, tool_calls: [echo] }} assistantAvatar="🤖" assistantName="Bot" live reconnecting={0} busy={false} {...actions} />);
    expect(screen.queryByTestId('tool-call-approval')).toBeNull();
    expect(screen.getByTestId('tool-call-status').textContent).toBe('Done');
  });

  it('offers no buttons once the reply is over', () => {
    show({ ...awaiting, status: 'stopped' });
    expect(screen.queryByTestId('tool-call-approve')).toBeNull();
  });
});
