// Channels of the active configuration with their health as the relay sees it; refreshed
// every 10 s while open.

import { useEffect, useState } from 'react';
import { adminApi } from '../../api/admin';
import type { ChannelView } from '../../api/types';
import { useT } from '../../i18n';
import { toastError } from '../../state/toasts';

function health(channel: ChannelView): 'suspended' | 'ejected' | 'degraded' | 'healthy' {
  if (channel.suspended) return 'suspended';
  if (channel.health.ejected) return 'ejected';
  if (channel.health.disabled_keys > 0 || channel.health.consecutive_failures > 0) return 'degraded';
  return 'healthy';
}

const HEALTH_LABEL = {
  suspended: 'channels.suspended',
  ejected: 'channels.ejected',
  degraded: 'channels.degraded',
  healthy: 'channels.healthy',
} as const;

export default function ChannelsPage() {
  const t = useT();
  const [data, setData] = useState<{ version: number | string; data: ChannelView[] } | null>(null);

  useEffect(() => {
    let stopped = false;
    const load = () =>
      adminApi
        .channels()
        .then((answer) => !stopped && setData(answer))
        .catch(toastError);
    void load();
    const timer = setInterval(load, 10_000);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <section data-testid="admin-channels">
      <p className="muted">{data ? t('channels.version', { version: String(data.version) }) : t('common.loading')}</p>
      <div className="table-wrap">
        <table className="table table--dense">
          <thead>
            <tr>
              <th scope="col">{t('channels.name')}</th>
              <th scope="col">{t('channels.health')}</th>
              <th scope="col">{t('channels.models')}</th>
              <th scope="col">{t('channels.priorityWeight')}</th>
              <th scope="col">{t('channels.groups')}</th>
              <th scope="col">{t('channels.keys')}</th>
              <th scope="col">{t('channels.successFailure')}</th>
              <th scope="col">{t('channels.lastReason')}</th>
            </tr>
          </thead>
          <tbody>
            {data?.data.map((channel) => {
              const state = health(channel);
              return (
                <tr key={channel.name} data-testid="channel-row" data-health={state}>
                  <td>
                    <div className="cell-main">{channel.name}</div>
                    <div className="cell-sub">{channel.provider}</div>
                  </td>
                  <td>
                    <span className={`badge badge--${state}`}>{t(HEALTH_LABEL[state])}</span>
                    {channel.health.consecutive_failures > 0 ? <div className="cell-sub">{t('channels.consecutive', { count: channel.health.consecutive_failures })}</div> : null}
                  </td>
                  <td className="cell-wrap">{channel.models.join(', ')}</td>
                  <td>
                    {channel.priority} / {channel.weight}
                  </td>
                  <td>{channel.groups.length ? channel.groups.join(', ') : t('channels.allGroups')}</td>
                  <td>
                    {channel.keys}
                    {channel.health.disabled_keys > 0 ? <span className="cell-sub"> ({t('channels.disabledKeys', { count: channel.health.disabled_keys })})</span> : null}
                  </td>
                  <td>
                    {channel.health.successes} / {channel.health.failures}
                  </td>
                  <td className="cell-wrap">{channel.health.last_disable_reason ?? '—'}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {data && data.data.length === 0 ? <p className="muted table-empty">{t('channels.none')}</p> : null}
      </div>
    </section>
  );
}
