import { describe, expect, it } from 'vitest';
import type { SeriesLine, SeriesPoint, UsageSeries } from '../../api/types';
import { bucketLabel, errorRate, lineName, metricLines, peaks, tickLabel } from './timeSeries';

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 31, 22);

const point = (change: Partial<SeriesPoint> = {}): SeriesPoint => ({
  requests: 0,
  errors: 0,
  cancelled: 0,
  input_tokens: 0,
  output_tokens: 0,
  cost: '0.000000',
  latency_p50_ms: null,
  latency_p95_ms: null,
  latency_p99_ms: null,
  ttft_p50_ms: null,
  ...change,
});

const line = (key: string | null, points: SeriesPoint[], change: Partial<SeriesLine> = {}): SeriesLine => ({
  key,
  name: null,
  other: false,
  requests: points.reduce((sum, p) => sum + p.requests, 0),
  points,
  ...change,
});

const answer = (change: Partial<UsageSeries> = {}): UsageSeries => ({
  from: START,
  to: START + 3 * HOUR,
  step: 'hour',
  step_ms: HOUR,
  split: null,
  currency: 'USD',
  buckets: [START, START + HOUR, START + 2 * HOUR],
  summary: point({ requests: 6 }),
  total: line(null, [point({ requests: 4, errors: 1, cancelled: 2, latency_p50_ms: 40 }), point(), point({ requests: 2, cost: '0.250000' })]),
  series: [],
  ...change,
});

const NAMES = { other: 'Other', none: 'No channel', total: 'All requests' };

describe('metricLines', () => {
  it('draws the total when unsplit: counts, a rate over the requests the client waited for, gaps without data', () => {
    const data = answer();
    expect(metricLines(data, 'requests', NAMES)).toEqual([{ name: 'All requests', values: [4, 0, 2], tone: 0 }]);
    expect(metricLines(data, 'errorRate', NAMES)[0]?.values).toEqual([50, null, 0]);
    expect(metricLines(data, 'latencyP50', NAMES)[0]?.values).toEqual([40, null, null]);
    expect(metricLines(data, 'cost', NAMES)[0]?.values).toEqual([0, 0, 0.25]);
  });

  it('draws one line per series of a split, names keyless and folded ones, and greys the folded one', () => {
    const data = answer({
      split: 'channel',
      series: [
        line('default/a', [point({ requests: 3, input_tokens: 10, output_tokens: 5 }), point(), point()]),
        line(null, [point({ requests: 1 }), point(), point()]),
        line(null, [point(), point({ requests: 2 }), point()], { other: true }),
      ],
    });
    const lines = metricLines(data, 'tokens', NAMES);
    expect(lines.map((l) => [l.name, l.tone])).toEqual([
      ['default/a', 0],
      ['No channel', 1],
      ['Other', 'other'],
    ]);
    expect(lines[0]?.values).toEqual([15, 0, 0]);
    expect(metricLines(data, 'requests', NAMES)[2]?.values).toEqual([0, 2, 0]);
  });

  it('falls back to the total when a split has no traffic at all', () => {
    const lines = metricLines(answer({ split: 'model', series: [] }), 'requests', NAMES);
    expect(lines.map((l) => l.name)).toEqual(['All requests']);
  });
});

describe('lineName', () => {
  it("shows a user's name, else the key", () => {
    expect(lineName(line('u-1', [], { name: 'ada' }), 'user', NAMES)).toBe('ada');
    expect(lineName(line('u-2', []), 'user', NAMES)).toBe('u-2');
    expect(lineName(line('gray', []), 'lane', NAMES)).toBe('gray');
  });
});

describe('errorRate', () => {
  it('leaves cancellations out and has no value without requests', () => {
    expect(errorRate({ requests: 10, errors: 2, cancelled: 2 })).toBe(25);
    expect(errorRate({ requests: 2, errors: 0, cancelled: 2 })).toBeNull();
  });
});

describe('bucket labels', () => {
  it('names days by their UTC date and hours by month, day and hour', () => {
    expect(bucketLabel(Date.UTC(2025, 0, 31), 'day')).toBe('2025-01-31');
    expect(bucketLabel(START, 'hour', 'UTC')).toBe('01-31 22:00');
    expect(tickLabel('01-31 22:00')).toBe('22:00');
    expect(tickLabel('2025-01-31')).toBe('01-31');
  });
});

describe('peaks', () => {
  it('finds the highest value of each line and where, skipping lines without values', () => {
    const found = peaks(
      [
        { name: 'a', values: [1, 5, 5] },
        { name: 'b', values: [null, null] },
        { name: 'c', values: [0, null, 2] },
      ],
      ['x', 'y', 'z'],
    );
    expect(found).toEqual([
      { name: 'a', value: 5, label: 'y' },
      { name: 'c', value: 2, label: 'z' },
    ]);
  });
});
