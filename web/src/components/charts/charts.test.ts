import { describe, expect, it } from 'vitest';
import type { UsageRow } from '../../api/types';
import { linear, niceTicks } from './scale';
import { dailySeries } from './series';

describe('niceTicks', () => {
  it('steps by 1, 2 or 5 times a power of ten and covers the maximum', () => {
    expect(niceTicks(100)).toEqual([0, 50, 100]);
    expect(niceTicks(7)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(0.0003)).toEqual([0, 0.0001, 0.0002, 0.0003]);
    expect(niceTicks(1000, 5)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(niceTicks(0)).toEqual([0, 1]);
    for (const max of [1, 3, 17, 99, 12_345]) {
      const ticks = niceTicks(max);
      expect(ticks[ticks.length - 1]).toBeGreaterThanOrEqual(max);
      expect(ticks.length).toBeLessThanOrEqual(8);
    }
  });
});

describe('linear', () => {
  it('maps the domain onto the range, inverted for SVG y', () => {
    const y = linear(100, 200, 0);
    expect(y(0)).toBe(200);
    expect(y(50)).toBe(100);
    expect(y(100)).toBe(0);
  });
});

describe('dailySeries', () => {
  const row = (bucket: string, requests: number): UsageRow => ({
    bucket,
    model: null,
    requests,
    errors: 0,
    cancelled: 0,
    input_tokens: 0,
    output_tokens: 0,
    cost: '0',
  });
  it('orders days and fills the ones without traffic with zero', () => {
    const from = Date.UTC(2025, 0, 1);
    const to = Date.UTC(2025, 0, 4);
    const points = dailySeries([row('2025-01-03', 5), row('2025-01-01', 2)], from, to, (r) => r.requests);
    expect(points).toEqual([
      { label: '2025-01-01', value: 2 },
      { label: '2025-01-02', value: 0 },
      { label: '2025-01-03', value: 5 },
    ]);
  });
});
