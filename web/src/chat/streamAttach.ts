// Attaches the UI to a generation stream: reads it (resuming across drops), batches deltas to
// one store update per animation frame, and tells listeners when a reply settles so balance and
// topic titles refresh. A job outlives the page, so leaving never stops it; only `stop` does.

import { api } from '../api/client';
import type { Message } from '../api/types';
import { readResumableStream } from '../stream/resumable';
import { applyChatEvent, decodeChatEvent, isTerminal, type ChatStreamEvent } from './streamEvents';
import { conversationStore, updateMessage } from './conversationStore';

const attached = new Map<string, AbortController>();
const settledListeners = new Set<(message: Message | undefined, topicId: string) => void>();

export function onReplySettled(listener: (message: Message | undefined, topicId: string) => void): () => void {
  settledListeners.add(listener);
  return () => settledListeners.delete(listener);
}

export function isAttached(messageId: string): boolean {
  return attached.has(messageId);
}

function setLive(messageId: string, live: boolean): void {
  conversationStore.set((state) => {
    const next = { ...state.live };
    const reconnecting = { ...state.reconnecting };
    if (live) next[messageId] = true;
    else {
      delete next[messageId];
      delete reconnecting[messageId];
    }
    return { live: next, reconnecting };
  });
}

const schedule: (work: () => void) => void =
  typeof requestAnimationFrame === 'function'
    ? (work) => {
        // rAF does not run in a hidden tab; the timeout makes sure deltas still land.
        let ran = false;
        const once = () => {
          if (!ran) {
            ran = true;
            work();
          }
        };
        requestAnimationFrame(once);
        setTimeout(once, 100);
      }
    : (work) => setTimeout(work, 16);

export interface AttachOptions {
  /**
   * Reattaching to a stream whose row we loaded: the replay starts from the first event, so
   * the content we hold is replaced (on the first event, to avoid a blank flash).
   */
  replay: boolean;
}

export function attachStream(topicId: string, message: Message, { replay }: AttachOptions): void {
  const messageId = message.id;
  if (attached.has(messageId)) return;
  const controller = new AbortController();
  attached.set(messageId, controller);
  setLive(messageId, true);

  // The reply as streamed so far, kept here rather than only in the store: the message may
  // leave the view (a branch switch) and come back, and must then show the whole text.
  // A replay streams every tool call again, so the calls are rebuilt from it too.
  let shadow: Message = replay ? { ...message, content: '', reasoning: '', tool_calls: [] } : message;
  let pending: ChatStreamEvent[] = [];
  let scheduled = false;
  let final: Message | undefined;

  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    for (const event of events) shadow = applyChatEvent(shadow, event);
    const ended = events.some((e) => e.type === 'done' || e.type === 'error');
    if (ended) final = shadow;
    updateMessage(topicId, messageId, (held) => (ended ? shadow : { ...shadow, siblings: held.siblings }));
  };

  readResumableStream({
    signal: controller.signal,
    open: (lastEventId, signal) =>
      api.authorizedFetch(`/chat/streams/${encodeURIComponent(messageId)}`, {
        headers: { Accept: 'text/event-stream', ...(lastEventId ? { 'Last-Event-ID': lastEventId } : {}) },
        cache: 'no-store',
        signal,
      }),
    isTerminal,
    onEvent: (raw) => {
      pending.push(decodeChatEvent(raw));
      if (isTerminal(raw)) flush();
      else if (!scheduled) {
        scheduled = true;
        schedule(flush);
      }
    },
    onReconnect: (attempt) =>
      conversationStore.set((state) => ({ reconnecting: { ...state.reconnecting, [messageId]: attempt } })),
  })
    .then(() => {
      flush();
      conversationStore.set((state) => {
        const reconnecting = { ...state.reconnecting };
        delete reconnecting[messageId];
        return { reconnecting };
      });
    })
    .catch((error: unknown) => {
      flush();
      const text = error instanceof Error ? error.message : String(error);
      updateMessage(topicId, messageId, (message) =>
        message.status === 'streaming'
          ? { ...message, status: 'error', error: { code: 'stream_lost', message: text } }
          : message,
      );
    })
    .finally(() => {
      attached.delete(messageId);
      setLive(messageId, false);
      settledListeners.forEach((listener) => listener(final, topicId));
    });
}

/** Stops reading (the job goes on server-side). Used on sign-out. */
export function detachAll(): void {
  for (const controller of attached.values()) controller.abort();
  attached.clear();
}
