import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import { applyChatEvent, decodeChatEvent, normalizeSources } from './streamEvents';

const placeholder: Message = {
  id: 'm',
  session_id: 's',
  topic_id: 't',
  parent_id: 'u',
  role: 'assistant',
  content: '',
  reasoning: '',
  model: 'gpt-4o-mini',
  status: 'streaming',
  error: null,
  usage: null,
  cost: null,
  currency: 'USD',
  sources: [],
  siblings: { index: 0, count: 2, ids: ['m0', 'm'] },
  created_at: 1,
  updated_at: 1,
};

const sse = (event: string, data: unknown, id = '1') => ({ id, event, data: JSON.stringify(data) });

function run(events: ReturnType<typeof sse>[]): Message {
  return events.map(decodeChatEvent).reduce(applyChatEvent, placeholder);
}

describe('chat stream events', () => {
  it('accumulate text and reasoning deltas, sources and usage', () => {
    const message = run([
      sse('reasoning', { delta: 'Let me ' }),
      sse('reasoning', { delta: 'think' }),
      sse('text', { delta: 'Hel' }),
      sse('text', { delta: 'lo' }),
      sse('sources', { sources: [{ index: 1, title: 'Doc', url: null, snippet: 's' }] }),
      sse('usage', { usage: { input_tokens: 3, output_tokens: 2 }, cost: '0.000012', currency: 'USD' }),
    ]);
    expect(message).toMatchObject({
      content: 'Hello',
      reasoning: 'Let me think',
      status: 'streaming',
      cost: '0.000012',
      usage: { input_tokens: 3, output_tokens: 2 },
    });
    expect(message.sources).toHaveLength(1);
  });

  it('done replaces the message with the final record, keeping siblings when the record has none', () => {
    const final = { ...placeholder, content: 'Hello!', status: 'stopped' as const, siblings: undefined };
    const message = run([sse('text', { delta: 'Hel' }), sse('done', { message: final })]);
    expect(message.content).toBe('Hello!');
    expect(message.status).toBe('stopped');
    expect(message.siblings).toEqual(placeholder.siblings);
  });

  it('error marks the reply failed, preferring the stored record', () => {
    expect(run([sse('error', { code: 'upstream_error', message: 'boom' })])).toMatchObject({
      status: 'error',
      error: { code: 'upstream_error', message: 'boom' },
    });
    const record = { ...placeholder, status: 'error' as const, content: 'partial', error: { code: 'x', message: 'y' } };
    expect(run([sse('error', { code: 'x', message: 'y', message_record: record })]).content).toBe('partial');
  });

  it('ignores unknown events and malformed payloads', () => {
    expect(applyChatEvent(placeholder, decodeChatEvent({ id: '1', event: 'mystery', data: '{}' }))).toBe(placeholder);
    expect(applyChatEvent(placeholder, decodeChatEvent({ id: '1', event: 'text', data: 'not json' }))).toBe(placeholder);
  });

  it('folds the sources event into the reply before any text, and keeps them through done', () => {
    const passage = {
      index: 1,
      title: 'handbook.md — Refunds',
      url: null,
      snippet: 'Refunds are paid within 14 days.',
      file_id: 'f1',
      chunk_id: 'c1',
      knowledge_base_id: 'kb',
      heading: 'Refunds',
      page: null,
      score: 0.82,
    };
    const streamed = run([sse('sources', { sources: [passage] }), sse('text', { delta: 'Within 14 days [1].' })]);
    expect(streamed.sources).toEqual([passage]);
    expect(streamed.content).toBe('Within 14 days [1].');

    // The final record carries the stored sources; an older server's record without the field
    // keeps what was streamed.
    const withSources = run([sse('sources', { sources: [passage] }), sse('done', { message: { ...placeholder, sources: [passage], status: 'complete' } })]);
    expect(withSources.sources).toEqual([passage]);
    const { sources: _dropped, ...legacy } = placeholder;
    const withoutField = run([sse('sources', { sources: [passage] }), sse('done', { message: { ...legacy, status: 'complete' } })]);
    expect(withoutField.sources).toEqual([passage]);
  });

  it('an empty sources event (nothing relevant found) leaves the reply without sources', () => {
    expect(run([sse('sources', { sources: [] })]).sources).toEqual([]);
    expect(run([sse('sources', {})]).sources).toEqual([]);
  });
});

describe('tool call events', () => {
  const running = {
    id: 'call_1',
    function: 'echo',
    server: 'default/everything',
    tool: 'echo',
    arguments: { message: 'mock' },
    status: 'running',
    output: '',
    error: null,
    duration_ms: 0,
  };
  const ended = { ...running, status: 'ok', output: 'Echo: mock', duration_ms: 12 };

  it('a tool_call adds a running card and its tool_result ends it in place', () => {
    const started = run([sse('text', { delta: 'Let me check. ' }), sse('tool_call', running, '2')]);
    expect(started.tool_calls).toEqual([running]);
    const message = run([sse('text', { delta: 'Let me check. ' }), sse('tool_call', running, '2'), sse('tool_result', ended, '3'), sse('text', { delta: 'Mock result Echo: mock' }, '4')]);
    expect(message.tool_calls).toEqual([ended]);
    expect(message.content).toBe('Let me check. Mock result Echo: mock');
  });

  it('keeps calls in the order they started across rounds, each updated where it stands', () => {
    const second = { ...running, id: 'call_2', arguments: 'not json' };
    const message = run([
      sse('tool_call', running, '1'),
      sse('tool_call', second, '2'),
      sse('tool_result', { ...second, status: 'error', error: { code: 'timeout', message: 'slow' }, duration_ms: 30000 }, '3'),
      sse('tool_result', ended, '4'),
    ]);
    expect(message.tool_calls?.map((c) => [c.id, c.status])).toEqual([
      ['call_1', 'ok'],
      ['call_2', 'error'],
    ]);
    expect(message.tool_calls?.[1]).toMatchObject({ arguments: 'not json', error: { code: 'timeout', message: 'slow' } });
  });

  it('on a replay the same call id arrives twice, awaiting then its result: one card, the newest record', () => {
    const awaiting = { ...running, status: 'awaiting_approval' };
    const waiting = run([sse('tool_call', awaiting, '1')]);
    expect(waiting.tool_calls?.map((c) => c.status)).toEqual(['awaiting_approval']);
    const approved = run([sse('tool_call', awaiting, '1'), sse('tool_result', ended, '2')]);
    expect(approved.tool_calls).toEqual([ended]);
    // Approved, the job announces the call again as running before its result.
    const approvedThenRunning = run([sse('tool_call', awaiting, '1'), sse('tool_call', running, '2')]);
    expect(approvedThenRunning.tool_calls).toEqual([running]);
    expect(run([sse('tool_call', awaiting, '1'), sse('tool_call', running, '2'), sse('tool_result', ended, '3')]).tool_calls).toEqual([ended]);
    const rejected = run([sse('tool_call', awaiting, '1'), sse('tool_result', { ...awaiting, status: 'rejected' }, '2')]);
    expect(rejected.tool_calls?.map((c) => [c.id, c.status])).toEqual([['call_1', 'rejected']]);
  });

  it('the final record carries the stored calls; an older server without the field keeps the streamed ones', () => {
    const streamedThenDone = run([sse('tool_call', running), sse('tool_result', ended), sse('done', { message: { ...placeholder, status: 'complete', tool_calls: [ended] } })]);
    expect(streamedThenDone.tool_calls).toEqual([ended]);
    const legacy = run([sse('tool_call', running), sse('tool_result', ended), sse('done', { message: { ...placeholder, status: 'complete' } })]);
    expect(legacy.tool_calls).toEqual([ended]);
  });

  it('a tool event without a call id is ignored; missing fields get neutral values', () => {
    expect(applyChatEvent(placeholder, decodeChatEvent(sse('tool_call', { function: 'echo' })))).toBe(placeholder);
    expect(run([sse('tool_call', { id: 'call_9', function: 'lookup' })]).tool_calls).toEqual([
      { id: 'call_9', function: 'lookup', server: '', tool: 'lookup', arguments: null, status: 'running', output: '', error: null, duration_ms: 0 },
    ]);
  });
});

describe('normalizeSources', () => {
  it('orders by index, keeps one passage per index and drops malformed entries', () => {
    const sources = normalizeSources([
      { index: 2, title: 'B', url: null, snippet: 'b' },
      { index: 1, title: 'A', snippet: 'a' },
      { index: 2, title: 'B again', url: null, snippet: 'dup' },
      { index: 0, title: 'zero' },
      { index: 1.5, title: 'fraction' },
      { title: 'no index' },
      null,
      'text',
    ]);
    expect(sources.map((s) => [s.index, s.title])).toEqual([
      [1, 'A'],
      [2, 'B'],
    ]);
    expect(sources[0]).toMatchObject({ url: null, snippet: 'a' });
    expect(normalizeSources(undefined)).toEqual([]);
  });
});
