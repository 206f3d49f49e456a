// One webhook in a list: URL, description, events, an Enabled switch (PATCH), Send test,
// Delete after asking, and its recent deliveries behind a disclosure button.

import { useId, useState } from 'react';
import type { Webhook, WebhookDelivery } from '../../api/types';
import type { WebhookApi } from '../../api/webhooks';
import { useLanguage, useT } from '../../i18n';
import { formatDate } from '../../lib/format';
import { toast, toastError } from '../../state/toasts';
import { webhookName } from '../../webhooks/webhooks';
import { confirmAction } from '../Confirm';
import { Icon } from '../Icon';
import { DeliveryList } from './DeliveryList';

export function WebhookItem({
  hook,
  api,
  replay,
  onEnable,
  onDelete,
}: {
  hook: Webhook;
  api: WebhookApi;
  replay?: ((deliveryId: string) => Promise<WebhookDelivery>) | undefined;
  onEnable: (hook: Webhook, enabled: boolean) => Promise<void>;
  /** Deletes it (the question is asked here); resolves once it is gone. */
  onDelete: (hook: Webhook) => Promise<void>;
}) {
  const t = useT();
  const language = useLanguage();
  const ids = useId();
  const name = webhookName(hook);
  const [saving, setSaving] = useState(false);
  const [testing, setTesting] = useState(false);
  const [open, setOpen] = useState(false);
  /** Bumped by a test, so open deliveries show the ping. */
  const [sent, setSent] = useState(0);

  // Controls stay enabled (and focused) while a call is underway; a second press waits.
  const enable = async (enabled: boolean) => {
    if (saving) return;
    setSaving(true);
    try {
      await onEnable(hook, enabled);
    } catch (error) {
      toastError(error);
    } finally {
      setSaving(false);
    }
  };

  const sendTest = async () => {
    if (testing) return;
    setTesting(true);
    try {
      await api.test(hook.id);
      toast(t('webhooks.testSent', { name }), 'success', 2500);
      setSent((n) => n + 1);
    } catch (error) {
      toastError(error);
    } finally {
      setTesting(false);
    }
  };

  const remove = async () => {
    const ok = await confirmAction({
      title: t('webhooks.deleteTitle'),
      body: t('webhooks.deleteBody', { name }),
      confirmLabel: t('common.delete'),
      danger: true,
    });
    if (!ok) return;
    try {
      await onDelete(hook);
      toast(t('webhooks.deleted', { name }), 'success', 2500);
    } catch (error) {
      toastError(error);
    }
  };

  const deliveriesId = `${ids}-deliveries`;
  /** The element holding what the webhook goes by, which names its switch and disclosure too. */
  const nameId = `${ids}-name`;
  return (
    <li className="webhooks__item" data-testid="webhook" data-id={hook.id} data-enabled={String(hook.enabled)}>
      <div className="webhooks__head">
        <div className="webhooks__main">
          {hook.description ? (
            <span id={nameId} className="webhooks__name" data-testid="webhook-description-text">
              {hook.description}
            </span>
          ) : null}
          <code id={hook.description ? undefined : nameId} className="webhooks__url" data-testid="webhook-url-text">
            {hook.url}
          </code>
          <span className="muted webhooks__detail" data-testid="webhook-events">
            {t('webhooks.events', { events: hook.event_types.join(', ') })}
            {' · '}
            {t('webhooks.addedOn', { date: formatDate(hook.created_at, language) })}
          </span>
        </div>
        <div className="webhooks__actions">
          <label className="switch">
            <input
              type="checkbox"
              checked={hook.enabled}
              aria-labelledby={`${ids}-enabled ${nameId}`}
              aria-busy={saving || undefined}
              onChange={(e) => void enable(e.target.checked)}
              data-testid="webhook-enabled"
            />
            <span id={`${ids}-enabled`}>{t('webhooks.enabled')}</span>
          </label>
          <button
            type="button"
            className="button button--small"
            aria-label={t('webhooks.testOf', { name })}
            aria-busy={testing || undefined}
            onClick={() => void sendTest()}
            data-testid="webhook-test"
          >
            <Icon name="send" size={14} /> {t('webhooks.test')}
          </button>
          <button
            type="button"
            className="icon-button"
            aria-label={t('webhooks.delete', { name })}
            title={t('webhooks.delete', { name })}
            onClick={() => void remove()}
            data-testid="webhook-delete"
          >
            <Icon name="trash" />
          </button>
        </div>
      </div>
      <button
        type="button"
        className="webhooks__disclosure"
        aria-expanded={open}
        aria-controls={deliveriesId}
        aria-labelledby={`${ids}-deliveries-label ${nameId}`}
        onClick={() => setOpen((shown) => !shown)}
        data-testid="webhook-deliveries-toggle"
      >
        <Icon name="chevron-right" size={14} className="webhooks__chevron" />
        <span id={`${ids}-deliveries-label`}>{t('webhooks.deliveries')}</span>
      </button>
      <div id={deliveriesId} hidden={!open}>
        {open ? <DeliveryList webhookId={hook.id} name={name} load={api.deliveries} replay={replay} refreshKey={sent} /> : null}
      </div>
    </li>
  );
}
