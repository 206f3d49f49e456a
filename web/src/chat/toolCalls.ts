// A reply's tool calls (API.md `ToolCall`): reading a record from an event or a stored message,
// folding a call's events into the reply's list, and what a card shows of one. Pure.
//
// A call is streamed twice, `tool_call` when it starts (or waits for approval) and `tool_result`
// when it ends, and a reattached stream replays both from the first event. So the list is keyed
// by call id and the newest record of a call replaces the one held, in place: the card state
// follows the events, never a click.

import type { ToolCall, ToolCallStatus } from '../api/types';

const OPEN_STATUSES: ReadonlySet<string> = new Set<ToolCallStatus>(['running', 'awaiting_approval']);

/** A well-formed record of a payload, or null (no string id). Missing fields get neutral values. */
export function normalizeToolCall(raw: unknown): ToolCall | null {
  if (!raw || typeof raw !== 'object') return null;
  const call = raw as Partial<Record<keyof ToolCall, unknown>>;
  if (typeof call.id !== 'string' || call.id === '') return null;
  const text = (value: unknown) => (typeof value === 'string' ? value : '');
  const error = call.error && typeof call.error === 'object' ? (call.error as Partial<Record<'code' | 'message', unknown>>) : null;
  const fn = text(call.function);
  return {
    id: call.id,
    function: fn,
    server: text(call.server),
    ...(text(call.server_name) ? { server_name: text(call.server_name) } : {}),
    tool: text(call.tool) || fn,
    arguments: call.arguments ?? null,
    status: text(call.status) || 'running',
    output: text(call.output),
    error: error ? { code: text(error.code) || 'error', message: text(error.message) } : null,
    duration_ms: typeof call.duration_ms === 'number' && Number.isFinite(call.duration_ms) ? call.duration_ms : 0,
  };
}

/** The well-formed records of a stored message's `tool_calls`, one per id (the last wins). */
export function normalizeToolCalls(raw: unknown): ToolCall[] {
  if (!Array.isArray(raw)) return [];
  return raw.reduce<ToolCall[]>((calls, item) => {
    const call = normalizeToolCall(item);
    return call ? upsertToolCall(calls, call) : calls;
  }, []);
}

/** The list with `call` in it: a known id keeps its place and takes the newer record. */
export function upsertToolCall(calls: readonly ToolCall[], call: ToolCall): ToolCall[] {
  const at = calls.findIndex((held) => held.id === call.id);
  if (at < 0) return [...calls, call];
  const next = [...calls];
  next[at] = call;
  return next;
}

/** The call has not ended: it runs, or waits for the user. */
export function isOpen(call: ToolCall): boolean {
  return OPEN_STATUSES.has(call.status);
}

/** Some call of the reply is running or waiting (the reply shows that instead of "typing"). */
export function hasOpenCall(calls: readonly ToolCall[] | undefined): boolean {
  return (calls ?? []).some(isOpen);
}

/** Arguments as a reader wants them: JSON indented, a raw string that is JSON parsed first. */
export function formatArguments(value: unknown): string {
  if (value === null || value === undefined) return '{}';
  if (typeof value === 'string') return prettyIfJson(value);
  return JSON.stringify(value, null, 2);
}

/** A tool's output: indented when it is a JSON object or array, else as the tool wrote it. */
export function formatOutput(output: string): string {
  return prettyIfJson(output);
}

function prettyIfJson(text: string): string {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') && !trimmed.startsWith('[')) return text;
  try {
    return JSON.stringify(JSON.parse(trimmed), null, 2);
  } catch {
    return text;
  }
}

/** "12 ms" under a second, "1.4 s" under a minute, "2 min 5 s" beyond. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const seconds = Math.round(ms / 1000);
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}
