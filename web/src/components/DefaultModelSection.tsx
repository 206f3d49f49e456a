// The Account page's Default model: the model a blank chat (New chat → blank) starts with, picked
// from the models the user may use, or Automatic (null: the group's default, else the cheapest).
// Below the select, the model a blank chat starts with now, as the server works it out. A change
// is saved at once; a refusal (400) stays beside the select. A server that predates preferences
// (404) hides the section.

import { useEffect, useId, useRef, useState } from 'react';
import { chatApi } from '../api/chat';
import { ApiError } from '../api/http';
import type { ChatPreferences } from '../api/types';
import { useT } from '../i18n';
import { chatDataStore, loadModels } from '../state/chatData';
import { useStore } from '../state/store';
import { toastError } from '../state/toasts';

/** The select's value for Automatic (`default_model: null`). */
const AUTOMATIC = '';

export function DefaultModelSection() {
  const t = useT();
  const ids = useId();
  const models = useStore(chatDataStore, (s) => s.models);
  const modelsLoaded = useStore(chatDataStore, (s) => s.modelsLoaded);
  const [prefs, setPrefs] = useState<ChatPreferences | null>(null);
  const [hidden, setHidden] = useState(false);
  /** The choice being saved, shown in the select until the server answers. */
  const [pending, setPending] = useState<string | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  // Arrow keys on a closed select change it step by step: only the newest answer counts.
  const latest = useRef(0);

  useEffect(() => {
    let live = true;
    loadModels().catch(() => undefined);
    chatApi
      .getPreferences()
      .then((answer) => {
        if (live) setPrefs(answer);
      })
      .catch((failure: unknown) => {
        if (!live) return;
        if (failure instanceof ApiError && failure.status === 404) setHidden(true);
        else toastError(failure);
      });
    return () => {
      live = false;
    };
  }, []);

  if (hidden) return null;

  const change = async (value: string) => {
    const turn = ++latest.current;
    setPending(value);
    setError(null);
    try {
      const answer = await chatApi.setDefaultModel(value === AUTOMATIC ? null : value);
      if (turn !== latest.current) return;
      setPrefs(answer);
    } catch (failure) {
      if (turn !== latest.current) return;
      if (failure instanceof ApiError && failure.status === 400) {
        setError(t('defaultModel.refused', { model: value }));
        // The list held here may be stale: the model has gone from the user's group.
        loadModels(true).catch(() => undefined);
      } else toastError(failure);
    } finally {
      if (turn === latest.current) setPending(undefined);
    }
  };

  const effectiveId = `${ids}-effective`;
  const errorId = `${ids}-error`;
  const saved = prefs?.default_model ?? AUTOMATIC;
  const value = pending ?? saved;
  const modelIds = models.map((m) => m.id);
  // A default the user may no longer use is still what is saved: show it as such.
  const stale = value !== AUTOMATIC && !modelIds.includes(value) ? value : null;

  return (
    <section className="card form-card default-model" aria-labelledby={`${ids}-title`} data-testid="default-model">
      <h2 id={`${ids}-title`}>{t('defaultModel.title')}</h2>
      <p className="muted">{t('defaultModel.intro')}</p>
      {!prefs ? (
        <p className="muted">{t('common.loading')}</p>
      ) : (
        <div className="field default-model__field">
          <label className="field">
            <span>{t('defaultModel.label')}</span>
            <select
              value={value}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? `${effectiveId} ${errorId}` : effectiveId}
              onChange={(e) => void change(e.target.value)}
              data-testid="default-model-select"
            >
              <option value={AUTOMATIC}>{t('defaultModel.automatic')}</option>
              {stale ? <option value={stale}>{modelsLoaded ? t('defaultModel.unavailable', { model: stale }) : stale}</option> : null}
              {modelIds.map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
            </select>
          </label>
          {error ? (
            <small id={errorId} className="form-error" role="alert" data-testid="default-model-error">
              {error}
            </small>
          ) : null}
          <p
            id={effectiveId}
            className="muted default-model__effective"
            aria-live="polite"
            data-testid="blank-chat-model"
            data-model={prefs.blank_chat_model}
          >
            {prefs.blank_chat_model ? t('defaultModel.effective', { model: prefs.blank_chat_model }) : t('defaultModel.noModel')}
          </p>
        </div>
      )}
    </section>
  );
}
