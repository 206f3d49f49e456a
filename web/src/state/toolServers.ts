// The MCP servers the user may turn on for a session: listed once for the Account page's Tool
// servers section, the session settings' Tools fieldset and the chat header's indicator, and
// updated locally from each mutation's answer.

import { chatApi } from '../api/chat';
import { ApiError } from '../api/http';
import type { NewToolServer, ToolServerList, UserToolServer } from '../api/types';
import { onAccountReset } from './auth';
import { chatDataStore } from './chatData';
import { createStore } from './store';

interface ToolServersState {
  /** Null until listed, and when the server has no tool servers at all (404: it predates them). */
  list: ToolServerList | null;
  loaded: boolean;
}

export const toolServersStore = createStore<ToolServersState>({ list: null, loaded: false });
onAccountReset(() => toolServersStore.set({ list: null, loaded: false }));

let pending: Promise<ToolServerList | null> | null = null;

/** Lists them (once, unless `force`); a server without the endpoint lists nothing. */
export function loadToolServers(force = false): Promise<ToolServerList | null> {
  const held = toolServersStore.get();
  if (held.loaded && !force) return Promise.resolve(held.list);
  pending ??= chatApi
    .listToolServers()
    .catch((error: unknown) => {
      if (error instanceof ApiError && error.status === 404) return null;
      throw error;
    })
    .then((list) => {
      toolServersStore.set({ list, loaded: true });
      return list;
    })
    .finally(() => {
      pending = null;
    });
  return pending;
}

export async function addToolServer(input: NewToolServer): Promise<UserToolServer> {
  const server = await chatApi.createToolServer(input);
  toolServersStore.set((s) => (s.list ? { list: { ...s.list, user: [...s.list.user.filter((x) => x.id !== server.id), server] } } : {}));
  return server;
}

export async function deleteToolServer(server: UserToolServer): Promise<void> {
  await chatApi.deleteToolServer(server.id);
  toolServersStore.set((s) => (s.list ? { list: { ...s.list, user: s.list.user.filter((x) => x.id !== server.id) } } : {}));
  // The server drops it from every session that named it; so do the sessions held here.
  chatDataStore.set((s) => ({
    sessions: s.sessions.map((session) =>
      session.tools?.includes(server.ref) ? { ...session, tools: session.tools.filter((ref) => ref !== server.ref) } : session,
    ),
  }));
}

/** The platform refused a new server (403): it does not let users add any. */
export function markUserServersRefused(): void {
  toolServersStore.set((s) => (s.list ? { list: { ...s.list, user_servers_allowed: false } } : {}));
}
