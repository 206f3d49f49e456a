import { describe, expect, it } from 'vitest';
import type { ChannelLogHealth, ChannelView } from '../../api/types';
import { channelState, formatRate, mergeChannels, rateTone } from './channelHealth';

const configured = (name: string, change: Partial<ChannelView> = {}): ChannelView => ({
  name,
  provider: 'openai',
  models: ['m'],
  priority: 0,
  weight: 1,
  groups: [],
  suspended: false,
  keys: 1,
  health: { ejected: false, consecutive_failures: 0, disabled_keys: 0, last_disable_reason: null, successes: 0, failures: 0 },
  ...change,
});

const window = (requests: number, errors: number, success_rate: number | null) => ({
  requests,
  errors,
  cancelled: 0,
  success_rate,
  latency_p50_ms: 10,
  latency_p99_ms: 90,
});

const logged = (channel: string, recent = window(0, 0, null)): ChannelLogHealth => ({
  channel,
  last_15m: recent,
  last_24h: window(20, 1, 0.95),
  last_error: { at: 1, status: 502, error_class: 'upstream_error' },
});

describe('mergeChannels', () => {
  it('keeps the configured order and appends channels only the log knows, by name', () => {
    const rows = mergeChannels([configured('b'), configured('a')], [logged('z'), logged('a'), logged('c')]);
    expect(rows.map((r) => [r.name, Boolean(r.configured), r.log?.channel ?? null])).toEqual([
      ['b', true, null],
      ['a', true, 'a'],
      ['c', false, 'c'],
      ['z', false, 'z'],
    ]);
  });
});

describe('channelState', () => {
  it("prefers this relay's view, then the shared log's recent success rate", () => {
    const row = (channel: ChannelView | null, log: ChannelLogHealth | null = null) => ({ name: 'x', configured: channel, log });
    expect(channelState(row(configured('x', { suspended: true })))).toBe('suspended');
    expect(channelState(row(configured('x', { health: { ...configured('x').health, ejected: true } })))).toBe('ejected');
    expect(channelState(row(configured('x'), logged('x', window(10, 3, 0.7))))).toBe('degraded');
    expect(channelState(row(configured('x'), logged('x', window(2, 1, 0.5)))), 'too few requests to judge').toBe('healthy');
    expect(channelState(row(configured('x'), logged('x', window(10, 0, 1))))).toBe('healthy');
    expect(channelState(row(null, logged('x')))).toBe('unconfigured');
  });
});

describe('rates', () => {
  it('reads as good, poor or bad and prints as a percentage', () => {
    expect([rateTone(1), rateTone(0.95), rateTone(0.5), rateTone(null)]).toEqual(['good', 'poor', 'bad', null]);
    expect([formatRate(1), formatRate(0.8889), formatRate(null)]).toEqual(['100%', '88.9%', '—']);
  });
});
