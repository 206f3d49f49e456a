// Sessions, topics, models and agents: the lists around the conversation. Loaded on demand,
// updated locally from each mutation's answer so the rail never waits for a refetch.

import { chatApi } from '../api/chat';
import type { Agent, AgentInput, Model, NewSession, Session, SessionPatch, Topic } from '../api/types';
import { conversationStore, forgetTopic } from '../chat/conversationStore';
import { sortSessions } from '../chat/sessionGroups';
import { onAccountReset } from './auth';
import { createStore } from './store';

export interface TopicList {
  items: Topic[];
  hasMore: boolean;
  loaded: boolean;
}

interface ChatData {
  sessions: Session[];
  sessionsLoaded: boolean;
  topics: Record<string, TopicList>;
  models: Model[];
  modelsLoaded: boolean;
  agents: Agent[];
  agentsLoaded: boolean;
}

const empty: ChatData = {
  sessions: [],
  sessionsLoaded: false,
  topics: {},
  models: [],
  modelsLoaded: false,
  agents: [],
  agentsLoaded: false,
};

export const chatDataStore = createStore<ChatData>({ ...empty });
onAccountReset(() => {
  chatDataStore.set({ ...empty });
  conversationStore.set({ byTopic: {}, live: {}, reconnecting: {} });
});

export async function loadSessions(): Promise<Session[]> {
  const { sessions } = await chatApi.listSessions();
  chatDataStore.set({ sessions: sortSessions(sessions), sessionsLoaded: true });
  return sessions;
}

function putSession(session: Session): void {
  chatDataStore.set((s) => ({ sessions: sortSessions([session, ...s.sessions.filter((x) => x.id !== session.id)]) }));
}

export async function createSession(input: NewSession): Promise<Session> {
  const session = await chatApi.createSession(input);
  putSession(session);
  return session;
}

/**
 * The chat with an agent: the most recently used one the user already has, or a new one when
 * there is none or `fresh` (starting an agent twice must not make duplicate chats).
 */
export async function openAgentChat(agentId: string, fresh = false): Promise<Session> {
  if (!fresh) {
    const known = chatDataStore.get();
    const sessions = known.sessionsLoaded ? known.sessions : await loadSessions();
    const existing = sessions.filter((s) => s.agent_id === agentId).sort((a, b) => b.updated_at - a.updated_at)[0];
    if (existing) return existing;
  }
  return createSession({ agent_id: agentId });
}

export async function updateSession(sessionId: string, patch: SessionPatch): Promise<Session> {
  const session = await chatApi.updateSession(sessionId, patch);
  putSession(session);
  return session;
}

export async function deleteSession(sessionId: string): Promise<void> {
  await chatApi.deleteSession(sessionId);
  chatDataStore.set((s) => {
    const topics = { ...s.topics };
    topics[sessionId]?.items.forEach((topic) => forgetTopic(topic.id));
    delete topics[sessionId];
    return { sessions: s.sessions.filter((x) => x.id !== sessionId), topics };
  });
}

/** Marks a session as just used (it moves up the rail) without a refetch. */
export function touchSession(sessionId: string, at = Date.now()): void {
  const session = chatDataStore.get().sessions.find((s) => s.id === sessionId);
  if (session) putSession({ ...session, updated_at: at });
}

export async function loadTopics(sessionId: string): Promise<Topic[]> {
  const answer = await chatApi.listTopics(sessionId);
  chatDataStore.set((s) => ({
    topics: { ...s.topics, [sessionId]: { items: answer.topics, hasMore: answer.has_more, loaded: true } },
  }));
  return answer.topics;
}

export async function loadMoreTopics(sessionId: string): Promise<void> {
  const list = chatDataStore.get().topics[sessionId];
  const last = list?.items[list.items.length - 1];
  if (!list || !last || !list.hasMore) return;
  const answer = await chatApi.listTopics(sessionId, last.id);
  chatDataStore.set((s) => {
    const held = s.topics[sessionId]?.items ?? [];
    const ids = new Set(held.map((t) => t.id));
    return {
      topics: {
        ...s.topics,
        [sessionId]: { items: [...held, ...answer.topics.filter((t) => !ids.has(t.id))], hasMore: answer.has_more, loaded: true },
      },
    };
  });
}

/** A topic created or changed (a send, a rename, an automatic title): newest first. */
export function putTopic(topic: Topic): void {
  chatDataStore.set((s) => {
    const list = s.topics[topic.session_id] ?? { items: [], hasMore: false, loaded: false };
    const items = [topic, ...list.items.filter((t) => t.id !== topic.id)].sort((a, b) => b.updated_at - a.updated_at);
    return { topics: { ...s.topics, [topic.session_id]: { ...list, items } } };
  });
}

export async function renameTopic(topic: Topic, title: string): Promise<void> {
  const updated = await chatApi.renameTopic(topic.id, title);
  chatDataStore.set((s) => {
    const list = s.topics[topic.session_id];
    if (!list) return {};
    return {
      topics: { ...s.topics, [topic.session_id]: { ...list, items: list.items.map((t) => (t.id === topic.id ? updated : t)) } },
    };
  });
}

export async function deleteTopic(topic: Topic): Promise<void> {
  await chatApi.deleteTopic(topic.id);
  forgetTopic(topic.id);
  chatDataStore.set((s) => {
    const list = s.topics[topic.session_id];
    if (!list) return {};
    return { topics: { ...s.topics, [topic.session_id]: { ...list, items: list.items.filter((t) => t.id !== topic.id) } } };
  });
}

export async function loadModels(force = false): Promise<Model[]> {
  if (chatDataStore.get().modelsLoaded && !force) return chatDataStore.get().models;
  const { models } = await chatApi.listModels();
  chatDataStore.set({ models, modelsLoaded: true });
  return models;
}

export async function loadAgents(force = false): Promise<Agent[]> {
  if (chatDataStore.get().agentsLoaded && !force) return chatDataStore.get().agents;
  const { agents } = await chatApi.listAgents();
  chatDataStore.set({ agents, agentsLoaded: true });
  return agents;
}

export async function saveAgent(agentId: string | null, input: AgentInput): Promise<Agent> {
  const agent = agentId ? await chatApi.updateAgent(agentId, input) : await chatApi.createAgent(input);
  chatDataStore.set((s) => ({ agents: [agent, ...s.agents.filter((a) => a.id !== agent.id)] }));
  return agent;
}

export async function removeAgent(agentId: string): Promise<void> {
  await chatApi.deleteAgent(agentId);
  chatDataStore.set((s) => ({ agents: s.agents.filter((a) => a.id !== agentId) }));
}
