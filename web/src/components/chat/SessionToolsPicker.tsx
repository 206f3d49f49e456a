// The MCP servers a session's replies may call besides its agent's (at most 10): the platform's
// and the user's own, from `GET /chat/tool-servers`. A ref the session names that is no longer
// offered (a deleted server) is shown as unavailable; the dialog drops it on save.

import { useId } from 'react';
import { Link } from 'react-router-dom';
import type { ToolServerList } from '../../api/types';
import { MAX_SESSION_TOOLS, staleRefs, toolChoices } from '../../chat/toolServers';
import { useT } from '../../i18n';

export function SessionToolsPicker({
  list,
  value,
  onChange,
  error,
}: {
  list: ToolServerList;
  /** The refs turned on, stale ones included (as the session names them). */
  value: readonly string[];
  onChange: (refs: string[]) => void;
  /** The server's refusal of the last save, when it was about the tools. */
  error?: string | null;
}) {
  const t = useT();
  const choices = toolChoices(list);
  const stale = staleRefs(value, list);
  const on = value.filter((ref) => !stale.includes(ref));
  const full = on.length >= MAX_SESSION_TOOLS;
  const toggle = (ref: string, checked: boolean) => onChange(checked ? [...value, ref] : value.filter((x) => x !== ref));

  const errorId = useId();

  return (
    <fieldset className="kb-picker session-tools" aria-describedby={error ? errorId : undefined} data-testid="session-tools">
      <legend>{t('sessionTools.title')}</legend>
      <p className="muted kb-picker__hint">{t('sessionTools.hint')}</p>
      {choices.length === 0 ? (
        <p className="muted" data-testid="session-tools-none">
          {t('sessionTools.none')} <Link to="/account">{t('sessionTools.manage')}</Link>
        </p>
      ) : (
        <ul className="kb-picker__list">
          {choices.map((choice) => {
            const checked = on.includes(choice.ref);
            return (
              <li key={choice.ref}>
                <label className="kb-picker__option">
                  <input
                    type="checkbox"
                    value={choice.ref}
                    checked={checked}
                    disabled={!checked && full}
                    onChange={(e) => toggle(choice.ref, e.target.checked)}
                    data-testid="session-tool-option"
                    data-ref={choice.ref}
                    data-name={choice.name}
                  />
                  <span className="kb-picker__name">{choice.name}</span>
                  <span className="kb-picker__desc muted">
                    {choice.source === 'user'
                      ? t('sessionTools.yours')
                      : choice.approvalTools.length
                        ? t('toolServers.approvalTools', { tools: choice.approvalTools.join(', ') })
                        : t('sessionTools.platform')}
                  </span>
                </label>
              </li>
            );
          })}
        </ul>
      )}
      {stale.length > 0 ? (
        <ul className="session-tools__stale" aria-label={t('sessionTools.staleTitle')}>
          {stale.map((ref) => (
            <li key={ref} className="muted" data-testid="session-tool-stale" data-ref={ref}>
              {t('sessionTools.stale', { ref })}
            </li>
          ))}
        </ul>
      ) : null}
      {full ? <p className="muted">{t('sessionTools.limit', { count: MAX_SESSION_TOOLS })}</p> : null}
      {error ? (
        <p id={errorId} className="form-error" role="alert" data-testid="session-tools-error">
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}
