// MCP servers a user may turn on for a session (API.md "Tool servers"): the headers of a new
// server from the form's rows, which field a refusal names, and what a session's Tools
// fieldset offers and saves. Pure.

import type { ToolServerList } from '../api/types';
import type { MessageKey } from '../i18n';

/** The server's limits: servers per session, headers per server. */
export const MAX_SESSION_TOOLS = 10;
export const MAX_SERVER_HEADERS = 10;

/** One header row of the add form; `key` keeps a row's inputs when another row is removed. */
export interface HeaderRow {
  key: number;
  name: string;
  value: string;
}

/** What the add form shows beside each field: the server's words, or a key of ours. */
export interface ServerFormErrors {
  name?: string;
  url?: string;
  /** About the headers as a whole ("at most 10"). */
  headers?: string;
  /** About one row, by its `key`. */
  header?: Record<number, string>;
  /** Names no field. */
  form?: string;
}

const isBlank = (row: HeaderRow) => row.name.trim() === '' && row.value === '';

/** Rows that cannot be sent as they are: a value without a name, a name given twice. */
export function headerRowProblems(rows: readonly HeaderRow[]): Record<number, MessageKey> {
  const problems: Record<number, MessageKey> = {};
  const seen = new Set<string>();
  for (const row of rows) {
    if (isBlank(row)) continue;
    const name = row.name.trim().toLowerCase();
    if (name === '') problems[row.key] = 'toolServers.headerNameMissing';
    else if (seen.has(name)) problems[row.key] = 'toolServers.headerDuplicate';
    seen.add(name);
  }
  return problems;
}

/** The headers to send: named rows (names trimmed, values as typed); undefined when none. */
export function headersOf(rows: readonly HeaderRow[]): Record<string, string> | undefined {
  const named = rows.filter((row) => row.name.trim() !== '');
  if (named.length === 0) return undefined;
  return Object.fromEntries(named.map((row) => [row.name.trim(), row.value]));
}

/**
 * Where a 400's message (`field: reason`, as the server words every refusal) belongs: `url`,
 * `name`, `headers`, the row of `headers.<name>`, or the form when it names no field here.
 * Header names are matched whole against the rows, so a name holding ": " cannot confuse it.
 */
export function serverFormErrorOf(message: string, rows: readonly HeaderRow[]): ServerFormErrors {
  for (const field of ['url', 'name', 'headers'] as const) {
    if (message.startsWith(`${field}: `)) return { [field]: message.slice(field.length + 2) };
  }
  const byLength = [...rows].filter((row) => row.name.trim() !== '').sort((a, b) => b.name.trim().length - a.name.trim().length);
  for (const row of byLength) {
    const prefix = `headers.${row.name.trim()}: `;
    if (message.startsWith(prefix)) return { header: { [row.key]: message.slice(prefix.length) } };
  }
  return { form: message };
}

/** One server a session may turn on. */
export interface ToolChoice {
  ref: string;
  name: string;
  source: 'platform' | 'user';
  /** Platform servers: the tools that wait for approval. */
  approvalTools: string[];
  /** User servers: where it is. */
  url?: string;
}

/** The servers offered (platform ones first, then the user's), in the server's order. */
export function toolChoices(list: ToolServerList): ToolChoice[] {
  return [
    ...list.platform.map((s): ToolChoice => ({ ref: s.ref, name: s.name, source: 'platform', approvalTools: s.approval_tools })),
    ...list.user.map((s): ToolChoice => ({ ref: s.ref, name: s.name, source: 'user', approvalTools: [], url: s.url })),
  ];
}

/** Refs a session names that are no longer offered (a deleted server, a group change). */
export function staleRefs(selected: readonly string[], list: ToolServerList): string[] {
  const offered = new Set(toolChoices(list).map((c) => c.ref));
  return selected.filter((ref) => !offered.has(ref));
}

/** What a session saves: the chosen refs that are still offered, each once, in order. */
export function toolsToSave(selected: readonly string[], list: ToolServerList): string[] {
  const stale = new Set(staleRefs(selected, list));
  return [...new Set(selected)].filter((ref) => !stale.has(ref));
}

/** The name a ref goes by, when it is offered. */
export function toolServerName(list: ToolServerList | null, ref: string): string | undefined {
  if (!list) return undefined;
  return list.platform.find((s) => s.ref === ref)?.name ?? list.user.find((s) => s.ref === ref)?.name;
}

export const sameRefs = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((ref, i) => ref === b[i]);
