// The chat stream's typed events (API.md "Streams") and how each one changes the assistant
// message being generated. Pure, so the reducer is tested without a network.

import type { Message, Source, ToolCall, Usage } from '../api/types';
import type { SseEvent } from '../stream/sse';
import { normalizeToolCall, normalizeToolCalls, upsertToolCall } from './toolCalls';

export type ChatStreamEvent =
  | { type: 'text'; delta: string }
  | { type: 'reasoning'; delta: string }
  | { type: 'sources'; sources: Source[] }
  /** A call started or waits for approval (`tool_call`), or ended (`tool_result`). */
  | { type: 'tool_call' | 'tool_result'; call: ToolCall }
  | { type: 'usage'; usage: Usage; cost: string | null; currency: string | null }
  | { type: 'done'; message: Message }
  | { type: 'error'; code: string; message: string; record: Message | null }
  | { type: 'unknown' };

export const TERMINAL_EVENTS = new Set(['done', 'error']);

export function isTerminal(event: SseEvent): boolean {
  return TERMINAL_EVENTS.has(event.event);
}

/** Decodes one SSE event; a malformed payload becomes `unknown` rather than breaking the stream. */
export function decodeChatEvent(event: SseEvent): ChatStreamEvent {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(event.data) as Record<string, unknown>;
  } catch {
    return event.event === 'error'
      ? { type: 'error', code: 'bad_event', message: event.data, record: null }
      : { type: 'unknown' };
  }
  switch (event.event) {
    case 'text':
      return { type: 'text', delta: String(data.delta ?? '') };
    case 'reasoning':
      return { type: 'reasoning', delta: String(data.delta ?? '') };
    case 'sources':
      return { type: 'sources', sources: normalizeSources(data.sources) };
    case 'tool_call':
    case 'tool_result': {
      const call = normalizeToolCall(data);
      return call ? { type: event.event, call } : { type: 'unknown' };
    }
    case 'usage':
      return {
        type: 'usage',
        usage: data.usage as Usage,
        cost: (data.cost as string | undefined) ?? null,
        currency: (data.currency as string | undefined) ?? null,
      };
    case 'done':
      return { type: 'done', message: data.message as Message };
    case 'error':
      return {
        type: 'error',
        code: String(data.code ?? 'error'),
        message: String(data.message ?? ''),
        record: (data.message_record as Message | undefined) ?? null,
      };
    default:
      return { type: 'unknown' };
  }
}

/** The message after one event. The final record of `done`/`error` wins over what was streamed. */
export function applyChatEvent(message: Message, event: ChatStreamEvent): Message {
  switch (event.type) {
    case 'text':
      return { ...message, content: message.content + event.delta };
    case 'reasoning':
      return { ...message, reasoning: message.reasoning + event.delta };
    case 'sources':
      return { ...message, sources: event.sources };
    case 'tool_call':
    case 'tool_result':
      return { ...message, tool_calls: upsertToolCall(message.tool_calls ?? [], event.call) };
    case 'usage':
      return {
        ...message,
        usage: event.usage,
        cost: event.cost ?? message.cost,
        currency: event.currency ?? message.currency,
      };
    case 'done':
      return keepSiblings(message, event.message);
    case 'error':
      if (event.record) return keepSiblings(message, event.record);
      return { ...message, status: 'error', error: { code: event.code, message: event.message } };
    default:
      return message;
  }
}

/**
 * A final record without a `siblings` field keeps the one we had; one without `sources` or
 * `tool_calls` (an older server) keeps what was streamed.
 */
function keepSiblings(current: Message, final: Message): Message {
  return {
    ...current,
    ...final,
    siblings: final.siblings ?? current.siblings,
    sources: Array.isArray(final.sources) ? normalizeSources(final.sources) : current.sources,
    tool_calls: Array.isArray(final.tool_calls) ? normalizeToolCalls(final.tool_calls) : current.tool_calls,
  };
}

/**
 * The well-formed sources of a payload, ordered by index, one per index: a citation `[n]` must
 * find exactly one passage. Entries without a positive integer index are dropped.
 */
export function normalizeSources(raw: unknown): Source[] {
  if (!Array.isArray(raw)) return [];
  const byIndex = new Map<number, Source>();
  for (const item of raw) {
    if (!item || typeof item !== 'object') continue;
    const source = item as Partial<Source>;
    const index = source.index;
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 1 || byIndex.has(index)) continue;
    byIndex.set(index, {
      ...source,
      index,
      title: typeof source.title === 'string' ? source.title : '',
      url: typeof source.url === 'string' ? source.url : null,
      snippet: typeof source.snippet === 'string' ? source.snippet : '',
    });
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
