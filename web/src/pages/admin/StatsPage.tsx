// Usage statistics: totals, a daily line chart, bars per model/user/key/channel (SVG, no chart
// library), and the table behind them.

import { useEffect, useMemo, useState } from 'react';
import { adminApi } from '../../api/admin';
import type { StatsGroup, UsageRow } from '../../api/types';
import { BarChart } from '../../components/charts/BarChart';
import { LineChart } from '../../components/charts/LineChart';
import { dailySeries, moneyValue } from '../../components/charts/series';
import { useT, type MessageKey } from '../../i18n';
import { formatMoney, formatTokens } from '../../lib/format';
import { toastError } from '../../state/toasts';

const GROUPS: { value: StatsGroup; label: MessageKey }[] = [
  { value: 'day', label: 'stats.byDay' },
  { value: 'model', label: 'stats.byModel' },
  { value: 'user', label: 'stats.byUser' },
  { value: 'key', label: 'stats.byKey' },
  { value: 'channel', label: 'stats.byChannel' },
];
const RANGES = [7, 30, 90];

export default function StatsPage() {
  const t = useT();
  const [group, setGroup] = useState<StatsGroup>('day');
  const [days, setDays] = useState(30);
  const [data, setData] = useState<{ rows: UsageRow[]; currency: string; from: number; to: number } | null>(null);

  useEffect(() => {
    const to = Date.now() + 1;
    const from = to - days * 86_400_000;
    adminApi
      .stats(group, from, to)
      .then((answer) => setData({ rows: answer.data, currency: answer.currency, from, to }))
      .catch(toastError);
  }, [group, days]);

  const totals = useMemo(() => {
    const rows = data?.rows ?? [];
    // Costs are summed as micro-unit integers, never as floats.
    const micros = rows.reduce((sum, r) => sum + BigInt(Math.round(moneyValue(r.cost) * 1e6)), 0n);
    return {
      requests: rows.reduce((s, r) => s + r.requests, 0),
      errors: rows.reduce((s, r) => s + r.errors, 0),
      cancelled: rows.reduce((s, r) => s + r.cancelled, 0),
      input: rows.reduce((s, r) => s + r.input_tokens, 0),
      output: rows.reduce((s, r) => s + r.output_tokens, 0),
      cost: `${micros / 1_000_000n}.${String(micros % 1_000_000n).padStart(6, '0')}`,
    };
  }, [data]);

  const top = useMemo(() => (data?.rows ?? []).slice(0, 15), [data]);

  return (
    <section data-testid="admin-stats">
      <div className="toolbar">
        <div className="tabs" role="tablist" aria-label={t('stats.groupBy')}>
          {GROUPS.map((g) => (
            <button key={g.value} type="button" role="tab" aria-selected={group === g.value} className={group === g.value ? 'tab tab--active' : 'tab'} onClick={() => setGroup(g.value)} data-testid={`stats-group-${g.value}`}>
              {t(g.label)}
            </button>
          ))}
        </div>
        <select value={days} onChange={(e) => setDays(Number(e.target.value))} aria-label={t('stats.range')}>
          {RANGES.map((d) => (
            <option key={d} value={d}>
              {t('stats.lastDays', { days: d })}
            </option>
          ))}
        </select>
      </div>
      <div className="summary-cards">
        <div className="card summary-card">
          <span className="muted">{t('stats.requests')}</span>
          <strong data-testid="stats-requests">{totals.requests}</strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('stats.errors')}</span>
          <strong data-testid="stats-errors">{totals.errors}</strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('stats.cancelled')}</span>
          <strong data-testid="stats-cancelled">{totals.cancelled}</strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('stats.tokens')}</span>
          <strong>
            {formatTokens(totals.input)} / {formatTokens(totals.output)}
          </strong>
        </div>
        <div className="card summary-card">
          <span className="muted">{t('stats.cost')}</span>
          <strong>{formatMoney(totals.cost, data?.currency)}</strong>
        </div>
      </div>
      {data ? (
        group === 'day' ? (
          <div className="chart-grid">
            <LineChart title={t('stats.requestsPerDay')} points={dailySeries(data.rows, data.from, data.to, (r) => r.requests)} testId="chart-requests" />
            <LineChart
              title={t('stats.costPerDay', { currency: data.currency })}
              points={dailySeries(data.rows, data.from, data.to, (r) => moneyValue(r.cost))}
              testId="chart-cost"
            />
          </div>
        ) : (
          <div className="chart-grid">
            <BarChart title={t('stats.requests')} bars={top.map((r) => ({ label: r.bucket || '—', value: r.requests }))} testId="chart-requests" />
            <BarChart title={t('stats.costIn', { currency: data.currency })} bars={top.map((r) => ({ label: r.bucket || '—', value: moneyValue(r.cost) }))} testId="chart-cost" />
          </div>
        )
      ) : null}
      <div className="table-wrap">
        <table className="table table--dense">
          <thead>
            <tr>
              <th scope="col">{t(GROUPS.find((g) => g.value === group)?.label ?? 'stats.byDay')}</th>
              <th scope="col">{t('stats.requests')}</th>
              <th scope="col">{t('stats.errors')}</th>
              <th scope="col">{t('stats.cancelled')}</th>
              <th scope="col">{t('stats.inputTokens')}</th>
              <th scope="col">{t('stats.outputTokens')}</th>
              <th scope="col">{t('stats.cost')}</th>
            </tr>
          </thead>
          <tbody>
            {[...(data?.rows ?? [])]
              .sort((a, b) => (group === 'day' ? b.bucket.localeCompare(a.bucket) : 0))
              .map((row) => (
                <tr key={row.bucket + (row.model ?? '')}>
                  <td>
                    <code>{row.bucket || '—'}</code>
                  </td>
                  <td>{row.requests}</td>
                  <td>{row.errors}</td>
                  <td>{row.cancelled}</td>
                  <td>{row.input_tokens}</td>
                  <td>{row.output_tokens}</td>
                  <td>{formatMoney(row.cost, data?.currency)}</td>
                </tr>
              ))}
          </tbody>
        </table>
        {data && data.rows.length === 0 ? <p className="muted table-empty">{t('stats.none')}</p> : null}
      </div>
    </section>
  );
}
