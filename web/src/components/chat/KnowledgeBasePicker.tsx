// The knowledge bases a session's (or a private agent's) answers draw on (at most 10), chosen
// from the user's own.

import { useEffect } from 'react';
import { Link } from 'react-router-dom';
import { useT } from '../../i18n';
import { knowledgeStore, loadKnowledgeBases } from '../../state/knowledge';
import { useStore } from '../../state/store';
import { toastError } from '../../state/toasts';

/** The server's limit of knowledge bases per session. */
export const MAX_SESSION_BASES = 10;

export function KnowledgeBasePicker({
  value,
  onChange,
  hint = 'knowledge.sessionHint',
}: {
  value: readonly string[];
  onChange: (ids: string[]) => void;
  hint?: 'knowledge.sessionHint' | 'knowledge.agentHint';
}) {
  const t = useT();
  const bases = useStore(knowledgeStore, (s) => s.bases);
  const loaded = useStore(knowledgeStore, (s) => s.loaded);

  useEffect(() => {
    loadKnowledgeBases(true).catch(toastError);
  }, []);

  const toggle = (id: string, on: boolean) => onChange(on ? [...value, id] : value.filter((x) => x !== id));
  const full = value.length >= MAX_SESSION_BASES;

  return (
    <fieldset className="kb-picker" data-testid="session-knowledge">
      <legend>{t('knowledge.sessionTitle')}</legend>
      <p className="muted kb-picker__hint">{t(hint)}</p>
      {loaded && bases.length === 0 ? (
        <p className="muted">
          {t('knowledge.noneYet')} <Link to="/knowledge">{t('knowledge.manage')}</Link>
        </p>
      ) : (
        <ul className="kb-picker__list">
          {bases.map((kb) => {
            const checked = value.includes(kb.id);
            return (
              <li key={kb.id}>
                <label className="kb-picker__option">
                  <input
                    type="checkbox"
                    checked={checked}
                    disabled={!checked && full}
                    onChange={(e) => toggle(kb.id, e.target.checked)}
                    data-testid="session-kb-option"
                    data-kb-name={kb.name}
                  />
                  <span className="kb-picker__name">{kb.name}</span>
                  {kb.description ? <span className="kb-picker__desc muted">{kb.description}</span> : null}
                </label>
              </li>
            );
          })}
        </ul>
      )}
      {full ? <p className="muted">{t('knowledge.sessionLimit', { count: MAX_SESSION_BASES })}</p> : null}
    </fieldset>
  );
}
