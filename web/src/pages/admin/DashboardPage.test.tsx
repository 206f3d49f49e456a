import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json, type RecordedCall, stubRecordingFetch } from '../../api/testing';
import type { SeriesLine, SeriesPoint, UsageSeries } from '../../api/types';
import DashboardPage from './DashboardPage';

afterEach(cleanup);

const HOUR = 3_600_000;
const START = Date.UTC(2025, 0, 31, 22);

const point = (requests: number, errors = 0): SeriesPoint => ({
  requests,
  errors,
  cancelled: 0,
  input_tokens: 10 * requests,
  output_tokens: 5 * requests,
  cost: (requests / 1000).toFixed(6),
  latency_p50_ms: requests ? 40 : null,
  latency_p95_ms: requests ? 90 : null,
  latency_p99_ms: requests ? 95 : null,
  ttft_p50_ms: null,
});

const line = (key: string | null, points: SeriesPoint[]): SeriesLine => ({
  key,
  name: null,
  other: false,
  requests: points.reduce((sum, p) => sum + p.requests, 0),
  points,
});

function seriesAnswer(url: URL): UsageSeries {
  const split = url.searchParams.get('split');
  const step = url.searchParams.get('step') === 'day' ? 'day' : 'hour';
  return {
    from: START,
    to: START + 2 * HOUR,
    step,
    step_ms: HOUR,
    split: split === 'model' ? 'model' : null,
    currency: 'USD',
    buckets: [START, START + HOUR],
    summary: { ...point(6, 1), cost: '0.006000' },
    total: line(null, [point(4, 1), point(2)]),
    series: split === 'model' ? [line('gpt-4o-mini', [point(3, 1), point(1)]), line('gpt-4o', [point(1), point(1)])] : [],
  };
}

let calls: RecordedCall[];

beforeEach(() => {
  calls = [];
  stubRecordingFetch(
    (call) => calls.push(call),
    () => json(seriesAnswer(new URL(calls.at(-1)?.url ?? '/', 'http://localhost'))),
  );
});

const legend = (testId: string) => within(screen.getByTestId(testId)).getAllByTestId('chart-legend-item').map((item) => item.textContent);

describe('the admin dashboard', () => {
  it('asks for the last 24 hours by the hour and shows the totals and a chart per measure', async () => {
    render(<DashboardPage />);
    await waitFor(() => expect(screen.getByTestId('admin-dashboard').getAttribute('data-state')).toBe('ready'));
    const asked = new URL(calls[0]?.url ?? '', 'http://localhost');
    expect(asked.pathname).toBe('/api/v1/admin/series');
    expect(asked.searchParams.get('step')).toBe('hour');
    expect(Number(asked.searchParams.get('to')) - Number(asked.searchParams.get('from'))).toBe(24 * HOUR);
    expect(asked.searchParams.has('split')).toBe(false);
    expect(screen.getByTestId('dashboard-requests').textContent).toBe('6');
    expect(screen.getByTestId('dashboard-errors').textContent).toBe('1');
    expect(screen.getByTestId('dashboard-latency').textContent).toBe('40 ms / 90 ms');
    expect(screen.getByTestId('dashboard-cost').textContent).toBe('$0.006');
    for (const metric of ['requests', 'errors', 'errorRate', 'latencyP50', 'latencyP95', 'ttftP50', 'tokens', 'cost']) {
      expect(screen.getByTestId(`dashboard-chart-${metric}`)).toBeTruthy();
    }
    expect(legend('dashboard-chart-requests')).toEqual(['All requests']);
    const svg = screen.getByTestId('dashboard-chart-requests').querySelector('svg');
    expect(document.getElementById(svg?.getAttribute('aria-describedby') ?? '')?.textContent).toMatch(/^Highest: All requests 4 \(/);
  });

  it('splits every chart by model with one legend entry per model', async () => {
    render(<DashboardPage />);
    await waitFor(() => expect(screen.getByTestId('admin-dashboard').getAttribute('data-state')).toBe('ready'));
    fireEvent.change(screen.getByTestId('dashboard-split'), { target: { value: 'model' } });
    await waitFor(() => expect(legend('dashboard-chart-requests')).toEqual(['gpt-4o-mini', 'gpt-4o']));
    expect(new URL(calls.at(-1)?.url ?? '', 'http://localhost').searchParams.get('split')).toBe('model');
    expect(legend('dashboard-chart-errorRate')).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });

  it('asks for 30 days by the day', async () => {
    render(<DashboardPage />);
    await waitFor(() => expect(calls).toHaveLength(1));
    fireEvent.click(screen.getByTestId('dashboard-range-30d'));
    await waitFor(() => expect(calls).toHaveLength(2));
    const asked = new URL(calls[1]?.url ?? '', 'http://localhost');
    expect(asked.searchParams.get('step')).toBe('day');
    expect(Number(asked.searchParams.get('to')) - Number(asked.searchParams.get('from'))).toBe(30 * 24 * HOUR);
    expect(screen.getByTestId('dashboard-range-30d').getAttribute('aria-pressed')).toBe('true');
  });
});
