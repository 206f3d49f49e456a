import { describe, expect, it } from 'vitest';
import { SseParser, type SseEvent } from './sse';

function parseAll(chunks: string[]): { events: SseEvent[]; parser: SseParser } {
  const parser = new SseParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return { events, parser };
}

const STREAM =
  ': ping\n\n' +
  'id: 1\nevent: text\ndata: {"delta":"Hel"}\n\n' +
  'id: 2\r\nevent: text\r\ndata: {"delta":"lo, 世界"}\r\n\r\n' +
  'id: 3\revent: reasoning\rdata: line one\rdata: line two\r\r' +
  ':comment in the middle\n' +
  'id: 4\nevent: done\ndata: {"message":{}}\n\n';

const EXPECTED: SseEvent[] = [
  { id: '1', event: 'text', data: '{"delta":"Hel"}' },
  { id: '2', event: 'text', data: '{"delta":"lo, 世界"}' },
  { id: '3', event: 'reasoning', data: 'line one\nline two' },
  { id: '4', event: 'done', data: '{"message":{}}' },
];

describe('SseParser', () => {
  it('parses events with ids, types, multi-line data, comments and every line ending', () => {
    const { events, parser } = parseAll([STREAM]);
    expect(events).toEqual(EXPECTED);
    expect(parser.comments).toBe(2);
    expect(parser.lastEventId).toBe('4');
  });

  it('gives the same events however the stream is split into two chunks', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const { events } = parseAll([STREAM.slice(0, cut), STREAM.slice(cut)]);
      expect(events, `split at ${cut}`).toEqual(EXPECTED);
    }
  });

  it('gives the same events when fed one character at a time', () => {
    expect(parseAll([...STREAM]).events).toEqual(EXPECTED);
  });

  it('gives the same events for random three-way splits', () => {
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const a = Math.floor(random() * STREAM.length);
      const b = a + Math.floor(random() * (STREAM.length - a));
      expect(parseAll([STREAM.slice(0, a), STREAM.slice(a, b), STREAM.slice(b)]).events).toEqual(EXPECTED);
    }
  });

  it('treats CR then LF split across chunks as one line break, not an empty line', () => {
    const { events } = parseAll(['data: a\r', '\ndata: b\r\n', '\r\n']);
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'a\nb' }]);
  });

  it('does not dispatch an event cut off before its blank line', () => {
    const { events, parser } = parseAll(['id: 1\ndata: x\n\nid: 2\ndata: half']);
    expect(events.map((e) => e.id)).toEqual(['1']);
    parser.finish();
    expect(parser.push('\n\n')).toEqual([]);
    // The id of the incomplete event was read, but resume must use the last *dispatched* id;
    // callers track that themselves (see resumable.ts).
  });

  it('keeps the last id for events without one and ignores ids containing NUL', () => {
    const { events } = parseAll(['id: 7\ndata: a\n\ndata: b\n\nid: x\u0000y\ndata: c\n\n']);
    expect(events.map((e) => e.id)).toEqual(['7', '7', '7']);
  });

  it('strips exactly one space after the colon and accepts fields without a colon', () => {
    const { events } = parseAll(['data:no-space\ndata:  two\ndata\n\n']);
    expect(events[0]?.data).toBe('no-space\n two\n');
  });

  it('ignores blocks without data, unknown fields, and a leading byte order mark', () => {
    const { events, parser } = parseAll(['\ufeffevent: text\nfoo: bar\n\nretry: 1500\ndata: y\n\n']);
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'y' }]);
    expect(parser.retryMs).toBe(1500);
  });

  it('starts from a given last event id', () => {
    const parser = new SseParser('41');
    expect(parser.push('data: z\n\n')[0]?.id).toBe('41');
  });
});
