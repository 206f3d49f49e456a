// Conversation actions: load (newest page first, older pages on demand), send, regenerate,
// edit-and-resend, switch branch, delete, stop. Each updates the store at once from the server's
// answer and attaches to the new reply's stream.

import { chatApi } from '../api/chat';
import type { Message, Topic } from '../api/types';
import { afterDelete, afterSend, mergePage, prependOlder, replaceFrom, withSiblingAdded } from './branches';
import { conversationStore, getConversation, updateConversation } from './conversationStore';
import { attachStream } from './streamAttach';
import { putTopic } from '../state/chatData';

/** Messages per page: enough to fill a tall screen, small enough to answer fast. */
export const PAGE_SIZE = 100;

function liveIds(): ReadonlySet<string> {
  return new Set(Object.keys(conversationStore.get().live));
}

function attachStreaming(topicId: string, messages: Message[]): void {
  for (const message of messages) {
    if (message.role === 'assistant' && message.status === 'streaming') {
      attachStream(topicId, message, { replay: true });
    }
  }
}

/** Loads (or refreshes) the newest page of a topic's active branch. */
export async function openConversation(sessionId: string, topicId: string): Promise<void> {
  const before = getConversation(topicId);
  if (!before) updateConversation(sessionId, topicId, () => ({ status: 'loading' }), { local: false });
  const version = getConversation(topicId)?.version ?? 0;
  try {
    const page = await chatApi.listMessages(sessionId, topicId, undefined, PAGE_SIZE);
    const now = getConversation(topicId);
    // A send or edit landed while we fetched: its local state is newer than this page.
    if (now && now.version !== version) return;
    updateConversation(
      sessionId,
      topicId,
      (c) => ({
        messages: mergePage(c.messages, page.messages, liveIds()),
        hasMore: page.has_more,
        status: 'ready',
        error: null,
      }),
      { local: false },
    );
    if (page.topic) putTopic(page.topic);
    attachStreaming(topicId, page.messages);
  } catch (error) {
    updateConversation(
      sessionId,
      topicId,
      () => ({ status: 'error', error: error instanceof Error ? error.message : String(error) }),
      { local: false },
    );
    throw error;
  }
}

/** Loads the page above the oldest message held. */
export async function loadOlder(sessionId: string, topicId: string): Promise<void> {
  const conversation = getConversation(topicId);
  const oldest = conversation?.messages[0];
  if (!conversation || !oldest || !conversation.hasMore || conversation.loadingOlder) return;
  updateConversation(sessionId, topicId, () => ({ loadingOlder: true }), { local: false });
  try {
    const page = await chatApi.listMessages(sessionId, topicId, oldest.id, PAGE_SIZE);
    updateConversation(
      sessionId,
      topicId,
      (c) => ({ messages: prependOlder(c.messages, page.messages), hasMore: page.has_more, loadingOlder: false }),
      { local: false },
    );
  } catch (error) {
    updateConversation(sessionId, topicId, () => ({ loadingOlder: false }), { local: false });
    throw error;
  }
}

/** What the user sees when they send: the reply uses exactly this, never a newer state another
 *  tab made (a model switched there, a branch added there). */
export interface SendView {
  /** The model the chat header shows. */
  model?: string;
  /** The last message of the branch on screen: the new message goes under it. */
  parentId?: string;
}

/** Sends a message (with uploaded files); without a topic a new one is created. Resolves to the topic. */
export async function sendMessage(
  sessionId: string,
  topicId: string | undefined,
  content: string,
  attachments: readonly string[] = [],
  view: SendView = {},
): Promise<Topic> {
  const answer = await chatApi.send(sessionId, {
    content,
    ...(topicId ? { topic_id: topicId } : {}),
    ...(topicId && view.parentId ? { parent_id: view.parentId } : {}),
    ...(view.model ? { model: view.model } : {}),
    ...(attachments.length ? { attachments: [...attachments] } : {}),
  });
  const topic = answer.topic;
  updateConversation(sessionId, topic.id, (c) => ({
    messages: afterSend(c.messages, answer.user_message, answer.assistant_message),
    // A topic just created has nothing older; an existing one keeps what it knew.
    status: 'ready',
    hasMore: topicId ? c.hasMore : false,
  }));
  attachStream(topic.id, answer.assistant_message, { replay: false });
  return topic;
}

export async function regenerate(sessionId: string, topicId: string, assistant: Message): Promise<void> {
  const answer = await chatApi.regenerate(assistant.id);
  updateConversation(sessionId, topicId, (c) => ({
    messages: withSiblingAdded(replaceFrom(c.messages, assistant.id, [answer.assistant_message]), answer.assistant_message),
  }));
  attachStream(topicId, answer.assistant_message, { replay: false });
}

/** A new version of a user message; it keeps the files the original carried. */
export async function editAndResend(sessionId: string, topicId: string, user: Message, content: string): Promise<void> {
  const answer = await chatApi.edit(user.id, content, (user.attachments ?? []).map((a) => a.file_id));
  updateConversation(sessionId, topicId, (c) => ({
    messages: withSiblingAdded(
      replaceFrom(c.messages, user.id, [answer.user_message, answer.assistant_message]),
      answer.user_message,
    ),
  }));
  attachStream(topicId, answer.assistant_message, { replay: false });
}

/** Makes the branch through `targetId` active and shows it from its newest page. */
export async function switchBranch(sessionId: string, topicId: string, targetId: string): Promise<void> {
  await chatApi.activate(targetId);
  const page = await chatApi.listMessages(sessionId, topicId, undefined, PAGE_SIZE);
  updateConversation(sessionId, topicId, (c) => ({
    messages: mergePage(c.messages, page.messages, liveIds()),
    hasMore: page.has_more,
    status: 'ready',
  }));
  attachStreaming(topicId, page.messages);
}

export async function deleteMessage(sessionId: string, topicId: string, message: Message): Promise<void> {
  await chatApi.deleteMessage(message.id);
  updateConversation(sessionId, topicId, (c) => ({ messages: afterDelete(c.messages, message.id) }));
}

export async function stopStream(messageId: string): Promise<void> {
  await chatApi.stop(messageId);
}

/**
 * Approves or declines a tool call that waits in a reply. The card's state is not changed here:
 * the stream's next `tool_result` says how the call went, on every tab and after a reload.
 */
export async function decideToolCall(messageId: string, callId: string, approve: boolean): Promise<void> {
  await chatApi.decideToolCall(messageId, callId, approve);
}

/** The reply being generated in a topic, if any (what Esc stops). */
export function streamingReply(topicId: string): Message | undefined {
  const conversation = getConversation(topicId);
  if (!conversation) return undefined;
  for (let i = conversation.messages.length - 1; i >= 0; i--) {
    const message = conversation.messages[i] as Message;
    if (message.role === 'assistant' && message.status === 'streaming') return message;
  }
  return undefined;
}
