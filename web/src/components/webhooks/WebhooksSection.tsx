// The Account page's Webhooks: the user's endpoints for signed events about their account
// (replies, balance, keys, indexed files). Hidden against a server that predates webhooks (404).

import { webhooksApi } from '../../api/webhooks';
import { useT } from '../../i18n';
import { useWebhooks } from './useWebhooks';
import { WebhooksBody } from './WebhooksBody';

export function WebhooksSection() {
  const t = useT();
  const state = useWebhooks(webhooksApi);
  if (state.missing) return null;
  return (
    <section className="card form-card webhooks" aria-labelledby="webhooks-title" data-testid="webhooks">
      <h2 id="webhooks-title">{t('webhooks.title')}</h2>
      <p className="muted">{t('webhooks.intro')}</p>
      <WebhooksBody state={state} api={webhooksApi} listTitle={t('webhooks.listTitle')} />
    </section>
  );
}
