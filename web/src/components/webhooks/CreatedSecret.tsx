// The signing secret of a webhook just created, in a read-only field to copy, with a note that
// it is shown only now. It takes the focus when it appears, so the note is read with it.

import { forwardRef, useId } from 'react';
import { useT } from '../../i18n';
import { copyText } from '../../lib/clipboard';
import { toast } from '../../state/toasts';
import { Icon } from '../Icon';
import type { CreatedSecret } from './useWebhooks';

export const CreatedSecretNotice = forwardRef<HTMLInputElement, { created: CreatedSecret; onDismiss: () => void }>(function CreatedSecretNotice(
  { created, onDismiss },
  input,
) {
  const t = useT();
  const ids = useId();
  const copy = async () => {
    if (await copyText(created.secret)) toast(t('common.copied'), 'success', 1500);
  };
  return (
    <div className="callout callout--success webhook-secret" data-testid="webhook-secret" data-webhook={created.webhookId}>
      <strong id={`${ids}-title`}>{t('webhooks.secretTitle', { url: created.url })}</strong>
      <p id={`${ids}-note`} data-testid="webhook-secret-note">
        {t('webhooks.secretNote')}
      </p>
      <div className="secret">
        <label className="sr-only" htmlFor={`${ids}-value`}>
          {t('webhooks.secretLabel')}
        </label>
        <input
          ref={input}
          id={`${ids}-value`}
          className="webhook-secret__value"
          value={created.secret}
          readOnly
          spellCheck={false}
          autoComplete="off"
          aria-describedby={`${ids}-title ${ids}-note`}
          onFocus={(e) => e.currentTarget.select()}
          data-testid="webhook-secret-value"
        />
        <button type="button" className="icon-button" aria-label={t('webhooks.copySecret')} title={t('webhooks.copySecret')} onClick={() => void copy()} data-testid="webhook-secret-copy">
          <Icon name="copy" />
        </button>
      </div>
      <button type="button" className="button" onClick={onDismiss} data-testid="webhook-secret-dismiss">
        {t('webhooks.secretSaved')}
      </button>
    </div>
  );
});
