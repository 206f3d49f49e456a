import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../../api/tokens';
import type { Session, ToolServerList } from '../../api/types';
import { chatDataStore } from '../../state/chatData';
import { toolServersStore } from '../../state/toolServers';
import { SessionSettingsDialog } from './SessionSettingsDialog';
import { ToolsIndicator } from './ToolsIndicator';

afterEach(cleanup);

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const session: Session = {
  id: 's1',
  title: 'Helper',
  avatar: '🤖',
  description: '',
  agent_id: null,
  system_prompt: '',
  model: 'gpt-4o-mini',
  temperature: null,
  opening_message: null,
  pinned: false,
  group: '',
  knowledge_base_ids: [],
  tools: ['user:u1'],
  created_at: 1,
  updated_at: 1,
};

const list: ToolServerList = {
  platform: [
    { ref: 'default/everything', name: 'default/everything', approval_tools: [] },
    { ref: 'default/careful', name: 'default/careful', approval_tools: ['echo'] },
  ],
  user: [{ ref: 'user:u1', id: 'u1', name: 'My search', url: 'https://mcp.example.com/mcp', header_names: [], created_at: 1 }],
  user_servers_allowed: true,
};

let patches: Record<string, unknown>[];
let patchAnswer: ((body: Record<string, unknown>) => Response) | null;
let listings: number;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  toolServersStore.set({ list: null, loaded: false });
  chatDataStore.set({ sessions: [session] });
  patches = [];
  patchAnswer = null;
  listings = 0;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    if (url === '/api/v1/chat/tool-servers') {
      listings += 1;
      return json(list);
    }
    if (url === '/api/v1/knowledge-bases') return json({ data: [] });
    if (url === '/api/v1/chat/sessions/s1' && method === 'PATCH') {
      const body = JSON.parse(String(init.body)) as Record<string, unknown>;
      patches.push(body);
      if (patchAnswer) return patchAnswer(body);
      return json({ ...session, ...body });
    }
    return json({ error: { code: 'not_found', message: url } }, 404);
  });
});

function open(s: Session = session) {
  const onClose = vi.fn();
  render(
    <MemoryRouter>
      <SessionSettingsDialog session={s} onClose={onClose} />
    </MemoryRouter>,
  );
  return onClose;
}

const byRef = (ref: string) => within(screen.getByTestId('session-tools')).getAllByTestId('session-tool-option').find((el) => el.getAttribute('data-ref') === ref) as HTMLInputElement;

describe('the Tools fieldset of the session settings', () => {
  it("offers every platform and user server, checked when it is in the session's tools", async () => {
    open();
    const fieldset = await screen.findByTestId('session-tools');
    expect(within(fieldset).getByText('Tools').tagName).toBe('LEGEND');
    const boxes = within(fieldset).getAllByTestId('session-tool-option') as HTMLInputElement[];
    expect(boxes.map((b) => [b.value, b.checked])).toEqual([
      ['default/everything', false],
      ['default/careful', false],
      ['user:u1', true],
    ]);
    // Each box is named by its label.
    expect(screen.getByRole('checkbox', { name: /^My search/ })).toBe(byRef('user:u1'));
    expect(fieldset.textContent).toContain('Needs your approval: echo');
  });

  it('saves the chosen refs with the PATCH', async () => {
    const onClose = open();
    await screen.findByTestId('session-tools');
    fireEvent.click(byRef('default/careful'));
    fireEvent.click(byRef('user:u1'));
    fireEvent.click(screen.getByTestId('session-settings-save'));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(patches).toHaveLength(1);
    expect(patches[0]?.tools).toEqual(['default/careful']);
    expect(chatDataStore.get().sessions[0]?.tools).toEqual(['default/careful']);
  });

  it('sends no tools when they did not change (an older server refuses the field)', async () => {
    const onClose = open();
    await screen.findByTestId('session-tools');
    fireEvent.click(screen.getByTestId('session-settings-save'));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(patches[0]).not.toHaveProperty('tools');
  });

  it('shows refs no longer offered as unavailable and drops them on save', async () => {
    const onClose = open({ ...session, tools: ['user:gone', 'user:u1'] });
    const stale = await screen.findByTestId('session-tool-stale');
    expect(stale.getAttribute('data-ref')).toBe('user:gone');
    expect(stale.textContent).toBe('user:gone is no longer available; it is removed when you save.');
    expect(byRef('user:u1').checked).toBe(true);
    fireEvent.click(screen.getByTestId('session-settings-save'));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(patches[0]?.tools).toEqual(['user:u1']);
  });

  it("shows the server's refusal of the tools in the fieldset and stays open", async () => {
    patchAnswer = () => json({ error: { code: 'invalid_request', message: 'tools[0]: no tool server `default/careful` you may use' } }, 400);
    const onClose = open();
    await screen.findByTestId('session-tools');
    fireEvent.click(byRef('default/careful'));
    fireEvent.click(screen.getByTestId('session-settings-save'));
    const error = await screen.findByTestId('session-tools-error');
    expect(error.textContent).toBe('no tool server `default/careful` you may use');
    expect(error.getAttribute('role')).toBe('alert');
    expect(screen.getByTestId('session-tools').getAttribute('aria-describedby')).toBe(error.id);
    expect(onClose).not.toHaveBeenCalled();
    // Changing the choice clears it.
    fireEvent.click(byRef('default/careful'));
    expect(screen.queryByTestId('session-tools-error')).toBeNull();
  });

  it('offers at most 10: the other boxes are disabled once 10 are on', async () => {
    const many: ToolServerList = {
      ...list,
      platform: Array.from({ length: 11 }, (_, i) => ({ ref: `default/s${i}`, name: `default/s${i}`, approval_tools: [] })),
      user: [],
    };
    vi.stubGlobal('fetch', async (input: RequestInfo | URL) =>
      String(input) === '/api/v1/chat/tool-servers' ? json(many) : json({ data: [] }),
    );
    open({ ...session, tools: many.platform.slice(0, 10).map((s) => s.ref) });
    const boxes = (await within(await screen.findByTestId('session-tools')).findAllByTestId('session-tool-option')) as HTMLInputElement[];
    expect(boxes.filter((b) => b.checked)).toHaveLength(10);
    expect(boxes[10]?.disabled).toBe(true);
    expect(screen.getByTestId('session-tools').textContent).toContain('A chat uses at most 10 tool servers.');
  });

  it('leaves the Tools fieldset out, and the tools alone, against a server without tool servers', async () => {
    vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
      const url = String(input);
      if (url === '/api/v1/chat/sessions/s1' && init.method === 'PATCH') {
        patches.push(JSON.parse(String(init.body)) as Record<string, unknown>);
        return json(session);
      }
      if (url === '/api/v1/knowledge-bases') return json({ data: [] });
      return json({ error: { code: 'not_found', message: url } }, 404);
    });
    const onClose = open();
    await waitFor(() => expect(toolServersStore.get().loaded).toBe(true));
    expect(screen.queryByTestId('session-tools')).toBeNull();
    fireEvent.click(screen.getByTestId('session-settings-save'));
    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(patches[0]).not.toHaveProperty('tools');
  });
});

describe('the tools indicator in the chat header', () => {
  it('is absent when the session has no tools on', () => {
    render(<ToolsIndicator session={{ ...session, tools: [] }} onOpen={() => undefined} />);
    expect(screen.queryByTestId('chat-tools')).toBeNull();
    expect(listings).toBe(0);
  });

  it('shows the count and names the servers in its accessible label; a click opens the settings', async () => {
    const onOpen = vi.fn();
    render(<ToolsIndicator session={{ ...session, tools: ['user:u1', 'default/everything'] }} onOpen={onOpen} />);
    const button = await screen.findByRole('button', { name: 'Tools on: My search, default/everything' });
    expect(button.getAttribute('data-count')).toBe('2');
    expect(button.textContent).toBe('2');
    fireEvent.click(button);
    expect(onOpen).toHaveBeenCalledTimes(1);
  });

  it('gives the count until the names are known, and leaves out servers no longer offered', async () => {
    render(<ToolsIndicator session={{ ...session, tools: ['user:u1', 'user:gone'] }} onOpen={() => undefined} />);
    expect(screen.getByRole('button', { name: 'Tools of 2 servers on' })).toBeTruthy();
    const named = await screen.findByRole('button', { name: 'Tools on: My search' });
    expect(named.getAttribute('data-count')).toBe('1');
  });
});
