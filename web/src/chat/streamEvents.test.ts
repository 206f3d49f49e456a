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
