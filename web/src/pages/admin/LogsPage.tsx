// Request logs, newest first, with the user who made each; filter by model or by a user's
// name, email or id; older pages by `before`.

import { useEffect, useState } from 'react';
import { adminApi } from '../../api/admin';
import type { RequestLog } from '../../api/types';
import { useLanguage, useT } from '../../i18n';
import { formatDateTime, formatMoney, microsToDecimal } from '../../lib/format';
import { toastError } from '../../state/toasts';

const PAGE = 100;

export default function LogsPage() {
  const t = useT();
  const language = useLanguage();
  const [model, setModel] = useState('');
  const [user, setUser] = useState('');
  const [rows, setRows] = useState<RequestLog[] | null>(null);
  const [more, setMore] = useState(false);

  const load = async (before?: number) => {
    try {
      const answer = await adminApi.logs({ limit: PAGE, model: model.trim() || undefined, user: user.trim() || undefined, before });
      setRows((held) => (before && held ? [...held, ...answer.data] : answer.data));
      setMore(answer.data.length === PAGE);
    } catch (error) {
      toastError(error);
    }
  };

  useEffect(() => {
    const timer = setTimeout(() => void load(), 300);
    return () => clearTimeout(timer);
    // Re-list when a filter changes (debounced); `load` reads them.
  }, [model, user]);

  return (
    <section data-testid="admin-logs">
      <div className="toolbar">
        <input className="toolbar__search" placeholder={t('admin.filterModel')} aria-label={t('admin.filterModel')} value={model} onChange={(e) => setModel(e.target.value)} />
        <input className="toolbar__search" placeholder={t('admin.filterUser')} aria-label={t('admin.filterUser')} value={user} onChange={(e) => setUser(e.target.value)} data-testid="logs-user-filter" />
        <button type="button" className="button" onClick={() => void load()}>
          {t('common.refresh')}
        </button>
      </div>
      <div className="table-wrap">
        <table className="table table--dense">
          <thead>
            <tr>
              <th scope="col">{t('admin.time')}</th>
              <th scope="col">{t('admin.user')}</th>
              <th scope="col">{t('admin.model')}</th>
              <th scope="col">{t('admin.channel')}</th>
              <th scope="col">{t('admin.status')}</th>
              <th scope="col">{t('admin.latency')}</th>
              <th scope="col">{t('admin.tokensInOut')}</th>
              <th scope="col">{t('admin.cost')}</th>
              <th scope="col">{t('admin.key')}</th>
            </tr>
          </thead>
          <tbody>
            {rows?.map((row) => (
              <tr key={row.id} data-testid="log-row">
                <td>{formatDateTime(row.created_at, language)}</td>
                <td data-testid="log-user">{row.username ?? (row.user_id ? row.user_id.slice(0, 8) : '—')}</td>
                <td>
                  <div className="cell-main">{row.model}</div>
                  <div className="cell-sub">
                    {row.ingress} · {row.endpoint}
                    {row.stream ? ' · stream' : ''}
                    {row.lane ? ` · ${row.lane}` : ''}
                  </div>
                </td>
                <td>
                  {row.channel ?? '—'}
                  {row.attempts > 1 ? <span className="cell-sub"> ×{row.attempts}</span> : null}
                </td>
                <td>
                  <span className={row.status < 400 ? 'badge badge--active' : 'badge badge--revoked'} title={row.error_class ?? undefined}>
                    {row.status}
                  </span>
                </td>
                <td>
                  {row.latency_ms} ms{row.ttft_ms !== null ? <span className="cell-sub"> · {t('admin.ttft')} {row.ttft_ms} ms</span> : null}
                </td>
                <td>
                  {row.input_tokens} / {row.output_tokens}
                  {row.usage_estimated ? <span className="cell-sub" title={t('admin.estimated')}> ~</span> : null}
                </td>
                <td>{formatMoney(microsToDecimal(row.cost_micros), row.currency)}</td>
                <td>
                  <code>{row.key_prefix || '—'}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {rows && rows.length === 0 ? <p className="muted table-empty">{t('admin.noLogs')}</p> : null}
      </div>
      {more && rows?.length ? (
        <button type="button" className="button button--ghost" onClick={() => void load(rows[rows.length - 1]?.created_at)}>
          {t('common.loadMore')}
        </button>
      ) : null}
    </section>
  );
}
