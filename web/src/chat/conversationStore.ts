// What the UI holds of each open topic: the loaded part of its active branch (oldest first),
// whether older messages exist, and which assistant messages have a stream attached.

import type { Message } from '../api/types';
import { createStore } from '../state/store';

export interface Conversation {
  sessionId: string;
  topicId: string;
  messages: Message[];
  hasMore: boolean;
  status: 'loading' | 'ready' | 'error';
  loadingOlder: boolean;
  error: string | null;
  /** Bumped by every local change, so a fetch that started earlier cannot overwrite it. */
  version: number;
}

export interface ConversationState {
  byTopic: Record<string, Conversation>;
  /** Assistant message ids whose stream is being read. */
  live: Record<string, true>;
  /** Message id -> reconnect attempt, while a dropped stream is being resumed. */
  reconnecting: Record<string, number>;
}

export const conversationStore = createStore<ConversationState>({ byTopic: {}, live: {}, reconnecting: {} });

export function emptyConversation(sessionId: string, topicId: string): Conversation {
  return {
    sessionId,
    topicId,
    messages: [],
    hasMore: false,
    status: 'loading',
    loadingOlder: false,
    error: null,
    version: 0,
  };
}

export function getConversation(topicId: string): Conversation | undefined {
  return conversationStore.get().byTopic[topicId];
}

/** Applies `change` to one topic's conversation (creating it when needed). */
export function updateConversation(
  sessionId: string,
  topicId: string,
  change: (conversation: Conversation) => Partial<Conversation>,
  { local = true }: { local?: boolean } = {},
): void {
  conversationStore.set((state) => {
    const current = state.byTopic[topicId] ?? emptyConversation(sessionId, topicId);
    const next = { ...current, ...change(current) };
    if (local) next.version = current.version + 1;
    return { byTopic: { ...state.byTopic, [topicId]: next } };
  });
}

/** Replaces one message wherever it is held. */
export function updateMessage(topicId: string, messageId: string, change: (message: Message) => Message): void {
  conversationStore.set((state) => {
    const conversation = state.byTopic[topicId];
    if (!conversation) return {};
    const at = conversation.messages.findIndex((m) => m.id === messageId);
    if (at === -1) return {};
    const messages = conversation.messages.slice();
    messages[at] = change(messages[at] as Message);
    return { byTopic: { ...state.byTopic, [topicId]: { ...conversation, messages } } };
  });
}

export function forgetTopic(topicId: string): void {
  conversationStore.set((state) => {
    const byTopic = { ...state.byTopic };
    delete byTopic[topicId];
    return { byTopic };
  });
}
