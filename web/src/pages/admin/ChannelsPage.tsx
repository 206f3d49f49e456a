// Channels of the active configuration with their health: success rate, latency and the latest
// error from the shared request log (cluster-wide), beside what this process's relay sees
// (ejections, disabled keys, its own successes and failures). Refreshed every 10 s while open.

import { useEffect, useMemo, useState } from 'react';
import { adminApi } from '../../api/admin';
import type { ChannelLogHealth, ChannelView } from '../../api/types';
import { useLanguage, useT } from '../../i18n';
import { formatRelative } from '../../lib/format';
import { toastError } from '../../state/toasts';
import '../../styles/dashboard.css';
import { channelState, formatRate, mergeChannels, rateTone, type ChannelRow } from './channelHealth';

const STATE_LABEL = {
  suspended: 'channels.suspended',
  ejected: 'channels.ejected',
  degraded: 'channels.degraded',
  healthy: 'channels.healthy',
  unconfigured: 'channels.unconfigured',
} as const;

const ms = (value: number | null | undefined) => (value === null || value === undefined ? '—' : `${value} ms`);

function Rate({ value, testId }: { value: number | null; testId?: string }) {
  const tone = rateTone(value);
  return (
    <span className={tone ? `health-rate--${tone}` : 'muted'} data-testid={testId}>
      {formatRate(value)}
    </span>
  );
}

export default function ChannelsPage() {
  const t = useT();
  const language = useLanguage();
  const [data, setData] = useState<{ version: number | string; data: ChannelView[] } | null>(null);
  const [log, setLog] = useState<ChannelLogHealth[]>([]);

  useEffect(() => {
    let stopped = false;
    const load = () => {
      adminApi
        .channels()
        .then((answer) => !stopped && setData(answer))
        .catch(toastError);
      // A server that predates channel health answers 404: the page still shows the rest.
      adminApi
        .channelHealth()
        .then((answer) => !stopped && setLog(answer.data))
        .catch(() => undefined);
    };
    load();
    const timer = setInterval(load, 10_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  const rows: ChannelRow[] = useMemo(() => mergeChannels(data?.data ?? [], log), [data, log]);

  return (
    <section data-testid="admin-channels">
      <p className="muted">{data ? t('channels.version', { version: String(data.version) }) : t('common.loading')}</p>
      <p className="muted cell-sub">{t('channels.sources')}</p>
      <div className="table-wrap">
        <table className="table table--dense">
          <thead>
            <tr>
              <th scope="col">{t('channels.name')}</th>
              <th scope="col">{t('channels.health')}</th>
              <th scope="col">{t('channels.successRate')}</th>
              <th scope="col">{t('channels.latency')}</th>
              <th scope="col">{t('channels.lastError')}</th>
              <th scope="col">{t('channels.models')}</th>
              <th scope="col">{t('channels.priorityWeight')}</th>
              <th scope="col">{t('channels.groups')}</th>
              <th scope="col">{t('channels.keys')}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => {
              const state = channelState(row);
              const channel = row.configured;
              const recent = row.log?.last_15m;
              const day = row.log?.last_24h;
              const failure = row.log?.last_error;
              return (
                <tr key={row.name} data-testid="channel-row" data-health={state} data-channel={row.name}>
                  <td>
                    <div className="cell-main">{row.name}</div>
                    <div className="cell-sub">{channel?.provider ?? ''}</div>
                  </td>
                  <td>
                    <span className={`badge badge--${state === 'unconfigured' ? 'expired' : state}`}>{t(STATE_LABEL[state])}</span>
                    {channel && channel.health.consecutive_failures > 0 ? <div className="cell-sub">{t('channels.consecutive', { count: channel.health.consecutive_failures })}</div> : null}
                    {channel ? (
                      <div className="cell-sub" data-testid="channel-relay-counts">
                        {t('channels.relayCounts', { successes: channel.health.successes, failures: channel.health.failures })}
                      </div>
                    ) : null}
                    {channel?.health.last_disable_reason ? (
                      <div className="cell-sub cell-wrap">
                        {t('channels.lastReason')}: {channel.health.last_disable_reason}
                      </div>
                    ) : null}
                  </td>
                  <td>
                    <Rate value={recent?.success_rate ?? null} testId="channel-rate-15m" /> / <Rate value={day?.success_rate ?? null} testId="channel-rate-24h" />
                    <div className="cell-sub">{t('channels.requests24h', { count: day?.requests ?? 0 })}</div>
                  </td>
                  <td data-testid="channel-latency">
                    {ms(day?.latency_p50_ms)} / {ms(day?.latency_p99_ms)}
                  </td>
                  <td className="cell-wrap" data-testid="channel-last-error">
                    {failure ? (
                      <>
                        <code>{failure.error_class ?? failure.status}</code>
                        <div className="cell-sub">
                          {failure.status} · {formatRelative(failure.at, language)}
                        </div>
                      </>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td className="cell-wrap channels__models">{channel ? channel.models.join(', ') : '—'}</td>
                  <td>{channel ? `${channel.priority} / ${channel.weight}` : '—'}</td>
                  <td>{channel ? (channel.groups.length ? channel.groups.join(', ') : t('channels.allGroups')) : '—'}</td>
                  <td>
                    {channel ? channel.keys : '—'}
                    {channel && channel.health.disabled_keys > 0 ? <span className="cell-sub"> ({t('channels.disabledKeys', { count: channel.health.disabled_keys })})</span> : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {data && rows.length === 0 ? <p className="muted table-empty">{t('channels.none')}</p> : null}
      </div>
    </section>
  );
}
