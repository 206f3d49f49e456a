import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../../api/tokens';
import type { Session, ToolServerList, UserToolServer } from '../../api/types';
import { chatDataStore } from '../../state/chatData';
import { toolServersStore } from '../../state/toolServers';
import { ConfirmHost } from '../Confirm';
import { ToolServersSection } from './ToolServersSection';

afterEach(cleanup);

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

const mine: UserToolServer = {
  ref: 'user:u1',
  id: 'u1',
  name: 'My search',
  url: 'https://mcp.example.com/mcp',
  header_names: ['authorization', 'x-team'],
  created_at: 1_733_100_000_000,
};

let list: ToolServerList;
let posted: unknown[];
let deleted: string[];
/** The answer of the next POST; by default the created server. */
let postAnswer: ((body: { name: string; url: string; headers?: Record<string, string> }) => Response) | null;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  toolServersStore.set({ list: null, loaded: false });
  list = {
    platform: [
      { ref: 'default/everything', name: 'default/everything', approval_tools: [] },
      { ref: 'default/careful', name: 'default/careful', approval_tools: ['echo', 'add'] },
    ],
    user: [mine],
    user_servers_allowed: true,
  };
  posted = [];
  deleted = [];
  postAnswer = null;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    if (url === '/api/v1/chat/tool-servers' && method === 'GET') return json(list);
    if (url === '/api/v1/chat/tool-servers' && method === 'POST') {
      const body = JSON.parse(String(init.body)) as { name: string; url: string; headers?: Record<string, string> };
      posted.push(body);
      if (postAnswer) return postAnswer(body);
      const server = { ref: 'user:u2', id: 'u2', name: body.name, url: body.url, header_names: Object.keys(body.headers ?? {}), created_at: 2 };
      list = { ...list, user: [...list.user, server] };
      return json(server, 201);
    }
    const del = /^\/api\/v1\/chat\/tool-servers\/(.+)$/.exec(url);
    if (del && method === 'DELETE') {
      deleted.push(del[1] as string);
      return new Response(null, { status: 204 });
    }
    return json({ error: { code: 'not_found', message: url } }, 404);
  });
});

function show() {
  return render(
    <>
      <ToolServersSection />
      <ConfirmHost />
    </>,
  );
}

const section = () => screen.getByTestId('tool-servers');

describe('the Tool servers section', () => {
  it("lists the platform's servers with the tools that need approval, and the user's with URL and header names, never values", async () => {
    show();
    await screen.findByTestId('user-tool-server');
    const platform = screen.getAllByTestId('platform-tool-server');
    expect(platform.map((li) => li.getAttribute('data-ref'))).toEqual(['default/everything', 'default/careful']);
    expect(within(platform[0] as HTMLElement).getByTestId('platform-tool-server-approval').textContent).toBe('No tool needs approval');
    expect(within(platform[1] as HTMLElement).getByTestId('platform-tool-server-approval').textContent).toBe('Needs your approval: echo, add');
    // Read-only: nothing to delete among the platform's.
    expect(within(screen.getByTestId('platform-tool-servers')).queryByRole('button')).toBeNull();

    const own = screen.getByTestId('user-tool-server');
    expect(own.textContent).toContain('My search');
    expect(within(own).getByTestId('user-tool-server-url').textContent).toBe('https://mcp.example.com/mcp');
    expect(within(own).getByTestId('user-tool-server-headers').textContent).toContain('Headers: authorization, x-team');
    expect(within(own).getByRole('button', { name: 'Delete My search' })).toBeTruthy();
  });

  it('adds a server with its header rows (values in password inputs) and lists it', async () => {
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: ' Second ' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://two.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    expect(screen.getAllByTestId('tool-server-header-row')).toHaveLength(3);
    // A new row takes the focus, ready for its name.
    expect(document.activeElement).toBe(screen.getByLabelText('Header 3 name'));
    const value = screen.getByLabelText('Header 1 value') as HTMLInputElement;
    expect(value.type).toBe('password');
    fireEvent.change(screen.getByLabelText('Header 1 name'), { target: { value: 'Authorization' } });
    fireEvent.change(value, { target: { value: 'Bearer secret' } });
    fireEvent.change(screen.getByLabelText('Header 2 name'), { target: { value: 'X-Drop' } });
    fireEvent.change(screen.getByLabelText('Header 3 name'), { target: { value: 'X-Team' } });
    fireEvent.change(screen.getByLabelText('Header 3 value'), { target: { value: 'blue' } });
    // Removing the middle row keeps what the others hold.
    fireEvent.click(screen.getByRole('button', { name: 'Remove header 2' }));
    expect((screen.getByLabelText('Header 2 name') as HTMLInputElement).value).toBe('X-Team');
    expect((screen.getByLabelText('Header 2 value') as HTMLInputElement).value).toBe('blue');

    fireEvent.click(screen.getByTestId('tool-server-add'));
    await waitFor(() => expect(screen.getAllByTestId('user-tool-server')).toHaveLength(2));
    expect(posted).toEqual([{ name: 'Second', url: 'https://two.example.com/mcp', headers: { Authorization: 'Bearer secret', 'X-Team': 'blue' } }]);
    expect((screen.getByLabelText('Name') as HTMLInputElement).value).toBe('');
    expect(document.activeElement).toBe(screen.getByLabelText('Name'));
    expect(screen.queryAllByTestId('tool-server-header-row')).toHaveLength(0);
    expect(section().textContent).not.toContain('Bearer secret');
  });

  it('sends no headers field when no row is named', async () => {
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Bare' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://bare.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.click(screen.getByTestId('tool-server-add'));
    await waitFor(() => expect(posted).toHaveLength(1));
    expect(posted[0]).toEqual({ name: 'Bare', url: 'https://bare.example.com/mcp' });
  });

  it("shows a 400 about the URL beside the URL field, marks it invalid and focuses it; typing clears it", async () => {
    postAnswer = () => json({ error: { code: 'invalid_request', message: 'url: loopback addresses are not allowed' } }, 400);
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Local' } });
    const url = screen.getByLabelText('URL (Streamable HTTP)') as HTMLInputElement;
    fireEvent.change(url, { target: { value: 'http://127.0.0.1:3001/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-add'));
    const error = await screen.findByTestId('tool-server-url-error');
    expect(error.textContent).toBe('loopback addresses are not allowed');
    expect(error.getAttribute('role')).toBe('alert');
    expect(url.getAttribute('aria-invalid')).toBe('true');
    expect(url.getAttribute('aria-describedby')).toBe(error.id);
    await waitFor(() => expect(document.activeElement).toBe(url));
    expect(screen.queryByTestId('tool-server-name-error')).toBeNull();
    // What was typed stays, to be fixed.
    expect(url.value).toBe('http://127.0.0.1:3001/mcp');
    fireEvent.change(url, { target: { value: 'https://ok.example.com/mcp' } });
    expect(screen.queryByTestId('tool-server-url-error')).toBeNull();
  });

  it('shows a 400 about one header beside that header row', async () => {
    postAnswer = () => json({ error: { code: 'invalid_request', message: 'headers.X-Bad: not a valid HTTP header' } }, 400);
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'Hdr' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://hdr.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.change(screen.getByLabelText('Header 1 name'), { target: { value: 'X-Good' } });
    fireEvent.change(screen.getByLabelText('Header 2 name'), { target: { value: 'X-Bad' } });
    fireEvent.change(screen.getByLabelText('Header 2 value'), { target: { value: 'line\nbreak' } });
    fireEvent.click(screen.getByTestId('tool-server-add'));
    const error = await screen.findByTestId('tool-server-header-error');
    const rows = screen.getAllByTestId('tool-server-header-row');
    expect(rows[1]?.contains(error)).toBe(true);
    expect(error.textContent).toBe('not a valid HTTP header');
    expect(screen.getByLabelText('Header 2 name').getAttribute('aria-invalid')).toBe('true');
    expect(screen.getByLabelText('Header 1 name').getAttribute('aria-invalid')).toBeNull();
    expect(screen.queryByTestId('tool-server-url-error')).toBeNull();
  });

  it('refuses to send a header value without a name, saying so beside the row', async () => {
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'X' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://x.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-header-add'));
    fireEvent.change(screen.getByLabelText('Header 1 value'), { target: { value: 'secret' } });
    expect(screen.getByTestId('tool-server-header-error').textContent).toBe('Give this header a name.');
    expect((screen.getByTestId('tool-server-add') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.submit(screen.getByTestId('tool-server-form'));
    expect(posted).toEqual([]);
  });

  it('shows a refusal naming no field under the form', async () => {
    postAnswer = () => json({ error: { code: 'invalid_request', message: 'tool server limit reached' } }, 400);
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'X' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://x.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-add'));
    expect((await screen.findByTestId('tool-server-form-error')).textContent).toBe('tool server limit reached');
  });

  it('deletes a server only after the confirmation, and drops it from the sessions held', async () => {
    chatDataStore.set({ sessions: [{ id: 's1', tools: ['user:u1', 'default/everything'] } as Session] });
    show();
    const own = await screen.findByTestId('user-tool-server');
    fireEvent.click(within(own).getByRole('button', { name: 'Delete My search' }));
    const dialog = await screen.findByTestId('confirm-dialog');
    expect(dialog.textContent).toContain('“My search” will be deleted');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByTestId('confirm-dialog')).toBeNull());
    expect(deleted).toEqual([]);
    expect(screen.getByTestId('user-tool-server')).toBeTruthy();

    fireEvent.click(within(screen.getByTestId('user-tool-server')).getByRole('button', { name: 'Delete My search' }));
    await act(async () => {
      fireEvent.click(await screen.findByTestId('confirm-ok'));
    });
    await waitFor(() => expect(screen.queryByTestId('user-tool-server')).toBeNull());
    expect(deleted).toEqual(['u1']);
    expect(chatDataStore.get().sessions[0]?.tools).toEqual(['default/everything']);
  });

  it('says the platform does not allow adding servers, and offers no form, when it does not', async () => {
    list = { ...list, user: [], user_servers_allowed: false };
    show();
    expect((await screen.findByTestId('user-tool-servers-disabled')).textContent).toBe(
      'This platform does not allow adding your own tool servers.',
    );
    expect(screen.queryByTestId('tool-server-form')).toBeNull();
    expect(screen.queryByRole('textbox')).toBeNull();
    // The platform's servers are still listed.
    expect(screen.getAllByTestId('platform-tool-server')).toHaveLength(2);
  });

  it('turns the form into the not-allowed notice when the server refuses with 403', async () => {
    postAnswer = () => json({ error: { code: 'user_tool_servers_disabled', message: 'This platform does not let users add their own tool servers.' } }, 403);
    show();
    await screen.findByTestId('tool-server-form');
    fireEvent.change(screen.getByLabelText('Name'), { target: { value: 'X' } });
    fireEvent.change(screen.getByLabelText('URL (Streamable HTTP)'), { target: { value: 'https://x.example.com/mcp' } });
    fireEvent.click(screen.getByTestId('tool-server-add'));
    await screen.findByTestId('user-tool-servers-disabled');
    expect(screen.queryByTestId('tool-server-form')).toBeNull();
  });

  it('shows nothing against a server that has no tool servers (404)', async () => {
    vi.stubGlobal('fetch', async () => json({ error: { code: 'not_found', message: 'no route' } }, 404));
    show();
    await waitFor(() => expect(toolServersStore.get().loaded).toBe(true));
    expect(screen.queryByTestId('tool-servers')).toBeNull();
  });
});
