// What the Account page's Webhooks section and the admin Webhooks page share: the secret of the
// webhook just created, the list, and the form to add one. Focus follows what happened: the
// secret when it appears, the list's heading when an item or the secret goes away.

import { useEffect, useRef } from 'react';
import type { WebhookDelivery } from '../../api/types';
import type { WebhookApi } from '../../api/webhooks';
import { useT } from '../../i18n';
import { AddWebhookForm } from './AddWebhookForm';
import { CreatedSecretNotice } from './CreatedSecret';
import type { WebhooksState } from './useWebhooks';
import { WebhookItem } from './WebhookItem';

export function WebhooksBody({
  state,
  api,
  replay,
  listTitle,
}: {
  state: WebhooksState;
  api: WebhookApi;
  replay?: (deliveryId: string) => Promise<WebhookDelivery>;
  listTitle: string;
}) {
  const t = useT();
  const heading = useRef<HTMLHeadingElement>(null);
  const secretInput = useRef<HTMLInputElement>(null);
  const { hooks, created } = state;

  useEffect(() => {
    if (created) secretInput.current?.focus();
  }, [created]);

  return (
    <>
      <h3 ref={heading} tabIndex={-1} className="webhooks__heading">
        {listTitle}
      </h3>
      {hooks === null ? (
        <p className="muted">{t('common.loading')}</p>
      ) : hooks.length === 0 ? (
        <p className="muted" data-testid="webhooks-empty">
          {t('webhooks.none')}
        </p>
      ) : (
        <ul className="webhooks__list" data-testid="webhook-list">
          {hooks.map((hook) => (
            <WebhookItem
              key={hook.id}
              hook={hook}
              api={api}
              replay={replay}
              onEnable={state.setEnabled}
              onDelete={async (gone) => {
                await state.remove(gone);
                heading.current?.focus();
              }}
            />
          ))}
        </ul>
      )}
      {created ? (
        <CreatedSecretNotice
          ref={secretInput}
          created={created}
          onDismiss={() => {
            state.dismissSecret();
            heading.current?.focus();
          }}
        />
      ) : null}
      <AddWebhookForm onAdd={state.add} />
    </>
  );
}
