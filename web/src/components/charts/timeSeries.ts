// Shapes `/admin/series` answers into chart lines: one metric (requests, errors, error rate,
// latency, tokens, cost, time to first token) per line, one line per series of the split (or
// the total), and labels for the buckets. Pure, so it is tested without a DOM.

import type { SeriesLine, SeriesPoint, SeriesSplit, UsageSeries } from '../../api/types';
import type { LineSeries } from './LineChart';
import { moneyValue } from './series';

export type Metric = 'requests' | 'errors' | 'errorRate' | 'latencyP50' | 'latencyP95' | 'ttftP50' | 'tokens' | 'cost';

/** Names for the lines that have no key of their own, in the reader's language. */
export interface LineNames {
  /** The folded series beyond the top ones. */
  other: string;
  /** Requests without a value of the split (no channel reached, no account). */
  none: string;
  /** The unsplit total. */
  total: string;
}

/** Failed requests as a percentage of those the client waited for (cancellations left out). */
export function errorRate(point: Pick<SeriesPoint, 'requests' | 'errors' | 'cancelled'>): number | null {
  const decided = point.requests - point.cancelled;
  return decided > 0 ? (100 * point.errors) / decided : null;
}

const VALUE: Record<Metric, (point: SeriesPoint) => number | null> = {
  requests: (p) => p.requests,
  errors: (p) => p.errors,
  errorRate,
  latencyP50: (p) => p.latency_p50_ms,
  latencyP95: (p) => p.latency_p95_ms,
  ttftP50: (p) => p.ttft_p50_ms,
  tokens: (p) => p.input_tokens + p.output_tokens,
  // Chart heights only; sums shown as money come from the server as decimal strings.
  cost: (p) => moneyValue(p.cost),
};

/** What a line is called: the split's value, the user's name, or a fixed name. */
export function lineName(line: SeriesLine, split: SeriesSplit | null, names: LineNames): string {
  if (line.other) return names.other;
  if (!split) return names.total;
  if (line.key === null) return names.none;
  return line.name ?? line.key;
}

/** The lines of the answer's split, or its total when unsplit. */
export function sourceLines(answer: UsageSeries): SeriesLine[] {
  if (answer.split && answer.series.length) return answer.series;
  return answer.total ? [answer.total] : [];
}

/** One chart line per series (the folded one grey) for `metric`. */
export function metricLines(answer: UsageSeries, metric: Metric, names: LineNames): LineSeries[] {
  const split = answer.series.length ? answer.split : null;
  return sourceLines(answer).map((line, index) => ({
    name: lineName(line, split, names),
    values: answer.buckets.map((_, i) => {
      const point = line.points[i];
      return point ? VALUE[metric](point) : null;
    }),
    tone: line.other ? 'other' : index,
  }));
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/**
 * The label of a bucket: a day is its UTC date (`2025-01-31`, the server's day buckets are UTC
 * days); an hour is shown in the reader's time zone (`01-31 14:00`), unless `timeZone` is `UTC`.
 */
export function bucketLabel(start: number, step: 'hour' | 'day', timeZone: 'local' | 'UTC' = 'local'): string {
  const date = new Date(start);
  if (step === 'day') return date.toISOString().slice(0, 10);
  const utc = timeZone === 'UTC';
  const month = utc ? date.getUTCMonth() : date.getMonth();
  const day = utc ? date.getUTCDate() : date.getDate();
  const hour = utc ? date.getUTCHours() : date.getHours();
  const minute = utc ? date.getUTCMinutes() : date.getMinutes();
  return `${pad(month + 1)}-${pad(day)} ${pad(hour)}:${pad(minute)}`;
}

/** The x-axis text of a label: the hour of an hourly label, the month and day of a daily one. */
export function tickLabel(label: string): string {
  return label.length > 10 ? label.slice(6) : label.slice(5);
}

/** The highest value of each line and where, for the chart's description. */
export function peaks(lines: readonly LineSeries[], labels: readonly string[]): { name: string; value: number; label: string }[] {
  return lines.flatMap((line) => {
    let best = -1;
    line.values.forEach((value, i) => {
      if (value !== null && (best < 0 || value > (line.values[best] ?? -Infinity))) best = i;
    });
    const value = best >= 0 ? line.values[best] : null;
    return value === null || value === undefined ? [] : [{ name: line.name, value, label: labels[best] ?? '' }];
  });
}
