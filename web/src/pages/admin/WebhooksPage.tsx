// Platform webhooks: endpoints that receive every user's events. Create, enable or disable, test,
// delete; each one's deliveries, and Replay for a delivery that has ended. A server that
// predates webhooks (404 on the list) says so instead.

import { platformWebhooksApi } from '../../api/webhooks';
import { useWebhooks } from '../../components/webhooks/useWebhooks';
import { WebhooksBody } from '../../components/webhooks/WebhooksBody';
import { useT } from '../../i18n';

export default function WebhooksPage() {
  const t = useT();
  const state = useWebhooks(platformWebhooksApi);
  return (
    <section className="webhooks webhooks--admin" aria-labelledby="admin-webhooks-title" data-testid="admin-webhooks">
      <h2 id="admin-webhooks-title">{t('webhooks.platformTitle')}</h2>
      {state.missing ? (
        <p className="muted" data-testid="admin-webhooks-unavailable">
          {t('webhooks.unavailable')}
        </p>
      ) : (
        <>
          <p className="muted">{t('webhooks.platformIntro')}</p>
          <WebhooksBody state={state} api={platformWebhooksApi} replay={platformWebhooksApi.replay} listTitle={t('webhooks.platformListTitle')} />
        </>
      )}
    </section>
  );
}
