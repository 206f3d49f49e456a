// What a send refused for an empty balance says, above the composer (which keeps the draft):
// why, where to top up, and a retry that sends the draft again.

import { Link } from 'react-router-dom';
import { useT } from '../../i18n';
import { Icon } from '../Icon';

export function QuotaRefusal({ onRetry, onDismiss }: { onRetry: () => void; onDismiss: () => void }) {
  const t = useT();
  return (
    <div className="send-refusal" role="alert" data-testid="send-refusal">
      <p className="send-refusal__text">{t('chat.noQuotaInline')}</p>
      <div className="send-refusal__actions">
        <Link className="button button--small" to="/account" data-testid="send-refusal-topup">
          {t('chat.topUp')}
        </Link>
        <button type="button" className="button button--small button--ghost" onClick={onRetry} data-testid="send-refusal-retry">
          {t('chat.retrySend')}
        </button>
        <button type="button" className="icon-button" aria-label={t('common.close')} onClick={onDismiss}>
          <Icon name="x" />
        </button>
      </div>
    </div>
  );
}
