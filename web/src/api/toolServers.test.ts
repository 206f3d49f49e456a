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

describe('the tool server API', () => {
  it('lists the platform servers, the user\'s own and whether they may add some', async () => {
    const list = { platform: [{ ref: 'default/everything', name: 'default/everything', approval_tools: [] }], user: [], user_servers_allowed: false };
    answer = () => json(list);
    await expect(chatApi.listToolServers()).resolves.toEqual(list);
    expect(calls).toEqual([{ url: '/api/v1/chat/tool-servers', method: 'GET', body: undefined, auth: 'Bearer a.b.c' }]);
  });

  it('adds a server with its headers and answers the created one', async () => {
    const created = { ref: 'user:1', id: '1', name: 'Mine', url: 'https://mcp.example.com/mcp', header_names: ['authorization'], created_at: 5 };
    answer = () => json(created, 201);
    await expect(chatApi.createToolServer({ name: 'Mine', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer s' } })).resolves.toEqual(created);
    expect(calls[0]).toMatchObject({
      url: '/api/v1/chat/tool-servers',
      method: 'POST',
      body: { name: 'Mine', url: 'https://mcp.example.com/mcp', headers: { authorization: 'Bearer s' } },
    });
  });

  it("gives the server's refusal as an ApiError with its message", async () => {
    answer = () => json({ error: { code: 'invalid_request', message: 'url: loopback addresses are not allowed' } }, 400);
    const error = await chatApi.createToolServer({ name: 'x', url: 'http://127.0.0.1/mcp' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_request', message: 'url: loopback addresses are not allowed' });
  });

  it('deletes a server by its id, escaped into the path', async () => {
    answer = () => new Response(null, { status: 204 });
    await expect(chatApi.deleteToolServer('a/b')).resolves.toBeUndefined();
    expect(calls[0]).toMatchObject({ url: '/api/v1/chat/tool-servers/a%2Fb', method: 'DELETE' });
  });

  it('turns tools on for a session with a PATCH of its refs', async () => {
    answer = () => json({ id: 's1', tools: ['user:1'] });
    await chatApi.updateSession('s1', { tools: ['user:1'] });
    expect(calls[0]).toMatchObject({ url: '/api/v1/chat/sessions/s1', method: 'PATCH', body: { tools: ['user:1'] } });
  });
});
