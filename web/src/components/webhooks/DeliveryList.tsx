// A webhook's recent deliveries, newest first: event, status (in words and an icon), attempts,
// the last answer or error, the next attempt. Read again while some are still underway (and
// never after it closes), when `refreshKey` changes (a test was sent) or on Refresh; older
// ones page in. With `replay` (administrators), an ended delivery can be sent once more.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/http';
import type { WebhookDelivery } from '../../api/types';
import type { WebhookApi } from '../../api/webhooks';
import { useLanguage, useT, type MessageKey } from '../../i18n';
import { formatDateTime } from '../../lib/format';
import { toast, toastError } from '../../state/toasts';
import { DELIVERY_PAGE, appendDeliveries, deliveryEnded, deliveryUnderway, refreshLimit, replaceDelivery } from '../../webhooks/webhooks';
import { Icon, type IconName } from '../Icon';

/** How long a delivery still underway waits before the list is read again. */
export const POLL_MS = 5000;

const STATUS: Record<string, { label: MessageKey; icon: IconName }> = {
  pending: { label: 'webhooks.status.pending', icon: 'clock' },
  delivering: { label: 'webhooks.status.delivering', icon: 'send' },
  delivered: { label: 'webhooks.status.delivered', icon: 'check' },
  failed: { label: 'webhooks.status.failed', icon: 'alert' },
};

function DeliveryStatus({ delivery }: { delivery: WebhookDelivery }) {
  const t = useT();
  const known = STATUS[delivery.status];
  return (
    // Focusable from script only: after a replay the focus lands here, on the new status.
    <span
      className={`badge delivery-status delivery-status--${known ? delivery.status : 'other'}`}
      tabIndex={-1}
      data-testid="delivery-status"
      data-status={delivery.status}
      data-delivery={delivery.id}
    >
      {known ? <Icon name={known.icon} size={12} /> : null}
      {known ? t(known.label) : delivery.status}
    </span>
  );
}

/** The last answer: its HTTP status and/or the error, or a dash before the first attempt. */
function lastResult(delivery: WebhookDelivery, httpStatus: (code: number) => string): string {
  const parts = [delivery.last_status_code !== null ? httpStatus(delivery.last_status_code) : null, delivery.last_error].filter(Boolean);
  return parts.length ? parts.join(' · ') : '—';
}

export function DeliveryList({
  webhookId,
  name,
  load,
  replay,
  refreshKey,
}: {
  webhookId: string;
  /** What the webhook goes by (the table's caption). */
  name: string;
  load: WebhookApi['deliveries'];
  replay?: ((deliveryId: string) => Promise<WebhookDelivery>) | undefined;
  refreshKey: number;
}) {
  const t = useT();
  const language = useLanguage();
  const [rows, setRows] = useState<WebhookDelivery[] | null>(null);
  const [failed, setFailed] = useState(false);
  const [hasMore, setHasMore] = useState(false);
  const [loadingMore, setLoadingMore] = useState(false);
  const [replaying, setReplaying] = useState<ReadonlySet<string>>(new Set());
  const table = useRef<HTMLDivElement>(null);
  const held = useRef(0);
  const live = useRef(true);
  /** Only the newest read lands. */
  const turn = useRef(0);
  /** A replayed row whose status takes the focus once rendered (its Replay button is gone). */
  const focusStatus = useRef<string | null>(null);

  const refresh = useCallback(async () => {
    const mine = ++turn.current;
    const limit = refreshLimit(held.current);
    try {
      const answer = await load(webhookId, { limit });
      if (!live.current || mine !== turn.current) return;
      held.current = answer.data.length;
      setRows(answer.data);
      setHasMore(answer.data.length === limit);
      setFailed(false);
    } catch (error) {
      if (!live.current || mine !== turn.current) return;
      setFailed(true);
      toastError(error);
    }
  }, [load, webhookId]);

  useEffect(() => {
    live.current = true;
    return () => {
      live.current = false;
    };
  }, []);

  useEffect(() => {
    void refresh();
  }, [refresh, refreshKey]);

  // Something still in the outbox: look again shortly, until it has ended.
  useEffect(() => {
    if (!rows?.some(deliveryUnderway)) return;
    const timer = setTimeout(() => void refresh(), POLL_MS);
    return () => clearTimeout(timer);
  }, [rows, refresh]);

  useEffect(() => {
    const id = focusStatus.current;
    if (!id) return;
    focusStatus.current = null;
    const statuses = table.current?.querySelectorAll<HTMLElement>('[data-delivery]') ?? [];
    [...statuses].find((status) => status.dataset.delivery === id)?.focus();
  }, [rows]);

  const loadMore = async () => {
    const oldest = rows?.[rows.length - 1];
    if (!oldest || loadingMore) return;
    setLoadingMore(true);
    const mine = ++turn.current;
    try {
      const answer = await load(webhookId, { limit: DELIVERY_PAGE, before: oldest.id });
      if (!live.current || mine !== turn.current) return;
      setRows((current) => {
        const next = appendDeliveries(current ?? [], answer.data);
        held.current = next.length;
        return next;
      });
      setHasMore(answer.data.length === DELIVERY_PAGE);
    } catch (error) {
      toastError(error);
    } finally {
      if (live.current) setLoadingMore(false);
    }
  };

  const sendAgain = async (delivery: WebhookDelivery) => {
    if (!replay || replaying.has(delivery.id)) return;
    setReplaying((held) => new Set(held).add(delivery.id));
    try {
      const queued = await replay(delivery.id);
      if (!live.current) return;
      focusStatus.current = queued.id;
      setRows((current) => (current ? replaceDelivery(current, queued) : current));
      toast(t('webhooks.replayed'), 'success', 2500);
    } catch (error) {
      toastError(error);
      // 409: it is underway again already (another administrator); show what it is now.
      if (error instanceof ApiError && error.status === 409) void refresh();
    } finally {
      if (live.current)
        setReplaying((held) => {
          const next = new Set(held);
          next.delete(delivery.id);
          return next;
        });
    }
  };

  const httpStatus = (code: number) => t('webhooks.httpStatus', { code });

  return (
    <div className="deliveries" ref={table} data-testid="webhook-deliveries">
      <div className="deliveries__bar">
        <button type="button" className="button button--small" aria-label={t('webhooks.refreshOf', { name })} onClick={() => void refresh()} data-testid="deliveries-refresh">
          <Icon name="refresh" size={14} /> {t('common.refresh')}
        </button>
      </div>
      {rows === null ? (
        failed ? (
          <p className="form-error" data-testid="deliveries-failed">
            {t('webhooks.deliveriesFailed')}
          </p>
        ) : (
          <p className="muted">{t('common.loading')}</p>
        )
      ) : rows.length === 0 ? (
        <p className="muted" data-testid="deliveries-empty">
          {t('webhooks.noDeliveries')}
        </p>
      ) : (
        <div className="table-wrap">
          <table className="table table--dense deliveries__table">
            <caption className="sr-only">
              {t('webhooks.deliveriesOf', { name })}
            </caption>
            <thead>
              <tr>
                <th scope="col">{t('webhooks.col.event')}</th>
                <th scope="col">{t('webhooks.col.status')}</th>
                <th scope="col">{t('webhooks.col.attempts')}</th>
                <th scope="col">{t('webhooks.col.result')}</th>
                <th scope="col">{t('webhooks.col.next')}</th>
                <th scope="col">{t('webhooks.col.created')}</th>
                {replay ? (
                  <th scope="col">
                    <span className="sr-only">{t('common.actions')}</span>
                  </th>
                ) : null}
              </tr>
            </thead>
            <tbody>
              {rows.map((delivery) => {
                const created = formatDateTime(delivery.created_at, language);
                return (
                  <tr key={delivery.id} data-testid="delivery" data-id={delivery.id} data-status={delivery.status}>
                    <td>
                      <code data-testid="delivery-event">{delivery.event_type}</code>
                    </td>
                    <td>
                      <DeliveryStatus delivery={delivery} />
                    </td>
                    <td data-testid="delivery-attempts">{delivery.attempts}</td>
                    <td className="cell-wrap deliveries__result" data-testid="delivery-result">
                      {lastResult(delivery, httpStatus)}
                    </td>
                    <td data-testid="delivery-next">{delivery.next_attempt_at !== null ? formatDateTime(delivery.next_attempt_at, language) : '—'}</td>
                    <td>{created}</td>
                    {replay ? (
                      <td>
                        {deliveryEnded(delivery) ? (
                          <button
                            type="button"
                            className="button button--small"
                            aria-label={t('webhooks.replayOf', { event: delivery.event_type, time: created })}
                            aria-busy={replaying.has(delivery.id) || undefined}
                            onClick={() => void sendAgain(delivery)}
                            data-testid="delivery-replay"
                          >
                            <Icon name="refresh" size={14} /> {t('webhooks.replay')}
                          </button>
                        ) : null}
                      </td>
                    ) : null}
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {rows && hasMore ? (
        <button type="button" className="button button--small" aria-busy={loadingMore || undefined} onClick={() => void loadMore()} data-testid="deliveries-more">
          {t('common.loadMore')}
        </button>
      ) : null}
    </div>
  );
}
