// The visible conversation is one branch of the topic's message tree (root -> active leaf).
// These functions say how that branch changes locally after an edit, a regenerate, a delete or
// a sibling switch, so the UI can update at once and agree with what the server will list.

import type { Message } from '../api/types';

/** The sibling `offset` steps away (-1 previous, +1 next), or null at either end. */
export function siblingTarget(message: Message, offset: number): string | null {
  const { index, count, ids } = message.siblings ?? { index: 0, count: 1, ids: [message.id] };
  const target = index + offset;
  if (target < 0 || target >= count || target >= ids.length) return null;
  return ids[target] ?? null;
}

/** "2 / 3" data for the switcher, or null when a message has no siblings. */
export function siblingPosition(message: Message): { current: number; count: number } | null {
  const siblings = message.siblings;
  if (!siblings || siblings.count < 2) return null;
  return { current: siblings.index + 1, count: siblings.count };
}

/** The branch up to (not including) `messageId`; the whole branch when it is absent. */
export function branchBefore(messages: Message[], messageId: string): Message[] {
  const at = messages.findIndex((m) => m.id === messageId);
  return at === -1 ? messages : messages.slice(0, at);
}

/**
 * The branch after a new sibling replaced `replacedId` (an edit replaces a user message, a
 * regenerate an assistant reply): everything below the replaced message belonged to the old
 * sibling and leaves the view.
 */
export function replaceFrom(messages: Message[], replacedId: string, replacement: Message[]): Message[] {
  const before = branchBefore(messages, replacedId);
  return [...before, ...replacement];
}

/** A delete removes the message and its descendants; the branch ends at its parent. */
export function afterDelete(messages: Message[], deletedId: string): Message[] {
  return branchBefore(messages, deletedId);
}

/**
 * Appends a send's two messages. A send always extends the active branch, so anything after
 * the user message's parent (there should be nothing) is dropped.
 */
export function afterSend(messages: Message[], user: Message, assistant: Message): Message[] {
  const parentAt = user.parent_id ? messages.findIndex((m) => m.id === user.parent_id) : -1;
  const base = user.parent_id && parentAt !== -1 ? messages.slice(0, parentAt + 1) : messages;
  return [...base.filter((m) => m.id !== user.id && m.id !== assistant.id), user, assistant];
}

/** Gives every other sibling of `message` the new sibling count, so switchers update at once. */
export function withSiblingAdded(messages: Message[], added: Message): Message[] {
  const siblings = added.siblings;
  if (!siblings) return messages;
  const ids = new Set(siblings.ids);
  return messages.map((m) =>
    ids.has(m.id) && m.id !== added.id ? { ...m, siblings: { ...siblings, index: siblings.ids.indexOf(m.id) } } : m,
  );
}

/**
 * Merges a page just fetched into the branch we hold: newer pages replace, older ones are
 * prepended. Messages whose stream we are reading keep the local copy (it is ahead of the
 * database row, which the job writes only now and then).
 */
export function mergePage(held: Message[], page: Message[], live: ReadonlySet<string>): Message[] {
  const local = new Map(held.map((m) => [m.id, m] as const));
  return page.map((m) => (live.has(m.id) && local.has(m.id) ? (local.get(m.id) as Message) : m));
}

/** Prepends an older page, dropping any overlap. */
export function prependOlder(held: Message[], older: Message[]): Message[] {
  const ids = new Set(held.map((m) => m.id));
  return [...older.filter((m) => !ids.has(m.id)), ...held];
}
