import { describe, expect, it } from 'vitest';
import type { ToolCall } from '../api/types';
import { formatArguments, formatDuration, formatOutput, hasOpenCall, normalizeToolCalls } from './toolCalls';

const call = (id: string, status: string): ToolCall => ({
  id,
  function: 'echo',
  server: 'default/everything',
  tool: 'echo',
  arguments: {},
  status,
  output: '',
  error: null,
  duration_ms: 0,
});

describe('tool calls', () => {
  it('pretty-print arguments: objects, raw strings that are JSON, and raw strings that are not', () => {
    expect(formatArguments({ message: 'mock', n: 1 })).toBe('{\n  "message": "mock",\n  "n": 1\n}');
    expect(formatArguments('{"message":"mock"}')).toBe('{\n  "message": "mock"\n}');
    expect(formatArguments('{"message": unterminated')).toBe('{"message": unterminated');
    expect(formatArguments(null)).toBe('{}');
  });

  it('indent an output that is a JSON object or array and leave prose alone', () => {
    expect(formatOutput('[1,2]')).toBe('[\n  1,\n  2\n]');
    expect(formatOutput('Echo: mock')).toBe('Echo: mock');
    expect(formatOutput('42')).toBe('42');
  });

  it('say durations in ms, seconds or minutes', () => {
    expect(formatDuration(12)).toBe('12 ms');
    expect(formatDuration(1440)).toBe('1.4 s');
    expect(formatDuration(42_000)).toBe('42 s');
    expect(formatDuration(125_000)).toBe('2 min 5 s');
  });

  it('a reply has an open call while one runs or waits for approval', () => {
    expect(hasOpenCall([call('a', 'ok'), call('b', 'running')])).toBe(true);
    expect(hasOpenCall([call('a', 'awaiting_approval')])).toBe(true);
    expect(hasOpenCall([call('a', 'ok'), call('b', 'error'), call('c', 'rejected')])).toBe(false);
    expect(hasOpenCall(undefined)).toBe(false);
  });

  it('a stored list drops records without an id and keeps one per id', () => {
    const calls = normalizeToolCalls([call('a', 'running'), { tool: 'x' }, null, call('b', 'ok'), call('a', 'ok')]);
    expect(calls.map((c) => [c.id, c.status])).toEqual([
      ['a', 'ok'],
      ['b', 'ok'],
    ]);
    expect(normalizeToolCalls(undefined)).toEqual([]);
  });

  it("a user's own server keeps the name its user gave it; others carry none", () => {
    const [own] = normalizeToolCalls([{ ...call('a', 'ok'), server: 'user:1', server_name: 'My tools' }]);
    expect([own?.server, own?.server_name]).toEqual(['user:1', 'My tools']);
    const [platform] = normalizeToolCalls([call('b', 'ok')]);
    expect(platform && 'server_name' in platform).toBe(false);
  });
});
