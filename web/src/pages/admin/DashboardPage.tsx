// The admin landing page: requests, errors, latency, tokens and cost over time from the shared
// request log (`/admin/series`), for the last 24 hours, 7 days or 30 days, each chart split by
// model, channel, user or lane if asked. Refreshed every minute while open.

import { useEffect, useMemo, useState } from 'react';
import { adminApi } from '../../api/admin';
import type { SeriesSplit, UsageSeries } from '../../api/types';
import { LineChart, type LineSeries } from '../../components/charts/LineChart';
import { compactNumber } from '../../components/charts/scale';
import { bucketLabel, errorRate, metricLines, peaks, tickLabel, type LineNames, type Metric } from '../../components/charts/timeSeries';
import { useT, type MessageKey, type Translate } from '../../i18n';
import { formatMoney, formatTokens } from '../../lib/format';
import { toastError } from '../../state/toasts';
import '../../styles/dashboard.css';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The ranges offered, with their step: hours up to a week (168 points), days beyond. */
const RANGES: { id: string; label: MessageKey; span: number; step: 'hour' | 'day' }[] = [
  { id: '24h', label: 'dashboard.last24h', span: DAY, step: 'hour' },
  { id: '7d', label: 'dashboard.last7d', span: 7 * DAY, step: 'hour' },
  { id: '30d', label: 'dashboard.last30d', span: 30 * DAY, step: 'day' },
];

const SPLITS: { value: SeriesSplit | ''; label: MessageKey }[] = [
  { value: '', label: 'dashboard.splitNone' },
  { value: 'model', label: 'dashboard.splitModel' },
  { value: 'channel', label: 'dashboard.splitChannel' },
  { value: 'user', label: 'dashboard.splitUser' },
  { value: 'lane', label: 'dashboard.splitLane' },
];

const percent = (value: number) => `${Number(value.toFixed(value < 10 ? 1 : 0))}%`;
const millis = (value: number) => (value >= 1000 ? `${Number((value / 1000).toPrecision(3))} s` : `${Number(value.toPrecision(3))} ms`);

interface ChartSpec {
  metric: Metric;
  title: (currency: string) => string;
  format: (value: number) => string;
}

function chartSpecs(t: Translate): ChartSpec[] {
  return [
    { metric: 'requests', title: () => t('dashboard.requests'), format: compactNumber },
    { metric: 'errors', title: () => t('dashboard.errors'), format: compactNumber },
    { metric: 'errorRate', title: () => t('dashboard.errorRate'), format: percent },
    { metric: 'latencyP50', title: () => t('dashboard.latencyP50'), format: millis },
    { metric: 'latencyP95', title: () => t('dashboard.latencyP95'), format: millis },
    { metric: 'ttftP50', title: () => t('dashboard.ttftP50'), format: millis },
    { metric: 'tokens', title: () => t('dashboard.tokens'), format: compactNumber },
    { metric: 'cost', title: (currency) => t('dashboard.cost', { currency }), format: compactNumber },
  ];
}

function describe(t: Translate, lines: LineSeries[], labels: string[], format: (value: number) => string): string {
  const highest = peaks(lines, labels);
  if (!highest.length) return t('dashboard.noData');
  return t('dashboard.peaks', { peaks: highest.map((p) => `${p.name} ${format(p.value)} (${p.label})`).join('; ') });
}

function noneName(t: Translate, split: SeriesSplit | ''): string {
  if (split === 'channel') return t('dashboard.noneChannel');
  if (split === 'user') return t('dashboard.noneUser');
  return t('dashboard.none');
}

export default function DashboardPage() {
  const t = useT();
  const [rangeId, setRangeId] = useState('24h');
  const [split, setSplit] = useState<SeriesSplit | ''>('');
  const [data, setData] = useState<UsageSeries | null>(null);
  const range = RANGES.find((r) => r.id === rangeId) ?? RANGES[0]!;

  useEffect(() => {
    let stopped = false;
    const load = () => {
      const to = Date.now() + 1;
      adminApi
        .series({ from: to - range.span, to, step: range.step, ...(split ? { split } : {}) })
        .then((answer) => !stopped && setData(answer))
        .catch(toastError);
    };
    load();
    const timer = setInterval(load, 60_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [range.span, range.step, split]);

  const labels = useMemo(() => (data ? data.buckets.map((start) => bucketLabel(start, data.step)) : []), [data]);
  const names: LineNames = { other: t('dashboard.other'), none: noneName(t, split), total: t('dashboard.total') };
  const summary = data?.summary ?? null;
  const rate = summary ? errorRate(summary) : null;

  return (
    <section className="dashboard" data-testid="admin-dashboard" data-state={data ? 'ready' : 'loading'} aria-busy={!data}>
      <div className="toolbar">
        <div className="tabs" role="group" aria-label={t('dashboard.range')}>
          {RANGES.map((r) => (
            <button key={r.id} type="button" className={r.id === rangeId ? 'tab tab--active' : 'tab'} aria-pressed={r.id === rangeId} onClick={() => setRangeId(r.id)} data-testid={`dashboard-range-${r.id}`}>
              {t(r.label)}
            </button>
          ))}
        </div>
        <label className="dashboard__split">
          <span>{t('dashboard.splitBy')}</span>
          <select value={split} onChange={(e) => setSplit(e.target.value as SeriesSplit | '')} data-testid="dashboard-split">
            {SPLITS.map((s) => (
              <option key={s.value} value={s.value}>
                {t(s.label)}
              </option>
            ))}
          </select>
        </label>
        {data ? <span className="muted dashboard__step">{t(data.step === 'hour' ? 'dashboard.perHour' : 'dashboard.perDay')}</span> : null}
      </div>
      <div className="summary-cards">
        <div className="card summary-card">
          <span className="muted">{t('dashboard.requests')}</span>
          <strong data-testid="dashboard-requests">{summary ? summary.requests : '—'}</strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('dashboard.errors')}</span>
          <strong data-testid="dashboard-errors">{summary ? summary.errors : '—'}</strong>
          {rate !== null ? <span className="cell-sub">{t('dashboard.errorRateOf', { rate: percent(rate) })}</span> : null}
        </div>
        <div className="card summary-card">
          <span className="muted">{t('dashboard.latency')}</span>
          <strong data-testid="dashboard-latency">
            {summary?.latency_p50_ms != null ? millis(summary.latency_p50_ms) : '—'} / {summary?.latency_p95_ms != null ? millis(summary.latency_p95_ms) : '—'}
          </strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('dashboard.tokensInOut')}</span>
          <strong>
            {formatTokens(summary?.input_tokens)} / {formatTokens(summary?.output_tokens)}
          </strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('dashboard.costTotal')}</span>
          <strong data-testid="dashboard-cost">{formatMoney(summary?.cost, data?.currency)}</strong>
        </div>
      </div>
      {data && summary?.requests === 0 ? <p className="muted">{t('dashboard.noData')}</p> : null}
      {data ? (
        <div className="chart-grid">
          {chartSpecs(t).map((spec) => {
            const lines = metricLines(data, spec.metric, names);
            return (
              <LineChart
                key={spec.metric}
                title={spec.title(data.currency)}
                series={lines}
                labels={labels}
                format={spec.format}
                tickLabel={tickLabel}
                description={describe(t, lines, labels, spec.format)}
                table={{ summary: t('dashboard.dataTable'), column: t('dashboard.time') }}
                testId={`dashboard-chart-${spec.metric}`}
              />
            );
          })}
        </div>
      ) : null}
    </section>
  );
}
