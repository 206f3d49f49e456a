// Chat sessions, topics, messages, search, agents, models, preferences and tool servers (dataplane/chat/API.md).

import { api } from './client';
import type {
  Agent,
  AgentInput,
  ChatPreferences,
  Message,
  MessagePage,
  Model,
  NewSession,
  NewToolServer,
  RegenerateAnswer,
  SearchResult,
  SendAnswer,
  Session,
  SessionPatch,
  ToolApproval,
  ToolServerList,
  Topic,
  UserToolServer,
} from './types';

const id = encodeURIComponent;

export interface SendInput {
  content: string;
  topic_id?: string;
  parent_id?: string;
  model?: string;
  /** File ids (at most 10); sent only when there are some, so an older server is not refused. */
  attachments?: string[];
}

export const chatApi = {
  listSessions: () => api.get<{ sessions: Session[] }>('/chat/sessions'),
  createSession: (input: NewSession) => api.post<Session>('/chat/sessions', input),
  getSession: (sessionId: string) => api.get<Session>(`/chat/sessions/${id(sessionId)}`),
  updateSession: (sessionId: string, patch: SessionPatch) => api.patch<Session>(`/chat/sessions/${id(sessionId)}`, patch),
  deleteSession: (sessionId: string) => api.delete(`/chat/sessions/${id(sessionId)}`),

  listTopics: (sessionId: string, before?: string, limit = 50) =>
    api.get<{ topics: Topic[]; has_more: boolean }>(`/chat/sessions/${id(sessionId)}/topics`, {
      query: { before, limit },
    }),
  createTopic: (sessionId: string, title?: string) =>
    api.post<Topic>(`/chat/sessions/${id(sessionId)}/topics`, title ? { title } : {}),
  renameTopic: (topicId: string, title: string) => api.patch<Topic>(`/chat/topics/${id(topicId)}`, { title }),
  deleteTopic: (topicId: string) => api.delete(`/chat/topics/${id(topicId)}`),
  exportTopic: (topicId: string, format: 'markdown' | 'json') =>
    api.authorizedFetch(`/chat/topics/${id(topicId)}/export`, {}, { format }),

  listMessages: (sessionId: string, topicId: string | undefined, before?: string, limit = 100, signal?: AbortSignal) =>
    api.get<MessagePage>(`/chat/sessions/${id(sessionId)}/messages`, {
      query: { topic_id: topicId, before, limit },
      ...(signal ? { signal } : {}),
    }),
  send: (sessionId: string, input: SendInput) => api.post<SendAnswer>(`/chat/sessions/${id(sessionId)}/messages`, input),
  regenerate: (messageId: string, model?: string) =>
    api.post<RegenerateAnswer>(`/chat/messages/${id(messageId)}/regenerate`, model ? { model } : {}),
  edit: (messageId: string, content: string, attachments?: string[]) =>
    api.put<SendAnswer>(`/chat/messages/${id(messageId)}`, { content, ...(attachments?.length ? { attachments } : {}) }),
  activate: (messageId: string) => api.post<{ topic: Topic }>(`/chat/messages/${id(messageId)}/activate`),
  deleteMessage: (messageId: string) => api.delete(`/chat/messages/${id(messageId)}`),
  stop: (streamId: string) => api.post<Record<string, never>>(`/chat/streams/${id(streamId)}/stop`),
  /** Lets a tool call that waits for approval run, or declines it (202; 404 once it no longer waits). */
  decideToolCall: (messageId: string, callId: string, approve: boolean) =>
    api.post<ToolApproval>(`/chat/messages/${id(messageId)}/tool-calls/${id(callId)}/approval`, { approve }),
  search: (q: string, limit = 20) => api.get<{ results: SearchResult[] }>('/chat/search', { query: { q, limit } }),

  listAgents: (source?: 'catalog' | 'user') => api.get<{ agents: Agent[] }>('/agents', { query: { source } }),
  getAgent: (agentId: string) => api.get<Agent>(`/agents/${id(agentId)}`),
  createAgent: (input: AgentInput) => api.post<Agent>('/agents', input),
  updateAgent: (agentId: string, input: Partial<AgentInput>) => api.patch<Agent>(`/agents/${id(agentId)}`, input),
  deleteAgent: (agentId: string) => api.delete(`/agents/${id(agentId)}`),

  listModels: () => api.get<{ models: Model[] }>('/models'),
  /** The user's default model for blank chats and the model a blank chat starts with now (404 on an older server). */
  getPreferences: () => api.get<ChatPreferences>('/chat/preferences'),
  /** Sets the default model (`null` = Automatic); 400 for a model the user may not use. */
  setDefaultModel: (model: string | null) => api.put<ChatPreferences>('/chat/preferences', { default_model: model }),

  /** The platform's MCP servers open to the user, the user's own, and whether they may add some. */
  listToolServers: () => api.get<ToolServerList>('/chat/tool-servers'),
  /** 201; 400 `field: reason` (`url`, `name`, `headers`, `headers.<name>`); 403 when users may not add servers. */
  createToolServer: (input: NewToolServer) => api.post<UserToolServer>('/chat/tool-servers', input),
  deleteToolServer: (serverId: string) => api.delete(`/chat/tool-servers/${id(serverId)}`),
};

export type { Message };
