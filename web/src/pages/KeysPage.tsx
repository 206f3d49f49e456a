// API keys for the B-side endpoint: create (the secret is shown once), list, revoke.

import { useEffect, useState, type FormEvent } from 'react';
import { accountApi } from '../api/account';
import type { ApiKey, CreatedApiKey } from '../api/types';
import { confirmAction } from '../components/Confirm';
import { Icon } from '../components/Icon';
import { useLanguage, useT } from '../i18n';
import { copyText } from '../lib/clipboard';
import { formatDate, formatMoney } from '../lib/format';
import { authStore } from '../state/auth';
import { useStore } from '../state/store';
import { toast, toastError } from '../state/toasts';

const STATE_LABEL = { active: 'keys.state.active', revoked: 'keys.state.revoked', expired: 'keys.state.expired' } as const;

function keyState(key: ApiKey, now: number): 'revoked' | 'expired' | 'active' {
  if (key.revoked_at) return 'revoked';
  if (key.expires_at && key.expires_at <= now) return 'expired';
  return 'active';
}

export default function KeysPage() {
  const t = useT();
  const language = useLanguage();
  const currency = useStore(authStore, (s) => s.quota?.currency ?? 'USD');
  const [keys, setKeys] = useState<ApiKey[] | null>(null);
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  const [name, setName] = useState('');
  const [models, setModels] = useState('');
  const [expires, setExpires] = useState('');
  const [maxSpend, setMaxSpend] = useState('');
  const [rpm, setRpm] = useState('');
  const [busy, setBusy] = useState(false);

  const reload = () =>
    accountApi
      .listKeys()
      .then((answer) => setKeys(answer.data))
      .catch(toastError);
  useEffect(() => {
    void reload();
  }, []);

  const create = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const key = await accountApi.createKey({
        name: name.trim(),
        ...(models.trim() ? { models: models.split(',').map((m) => m.trim()).filter(Boolean) } : {}),
        ...(expires ? { expires_at: new Date(`${expires}T23:59:59`).getTime() } : {}),
        ...(maxSpend.trim() ? { max_spend: maxSpend.trim() } : {}),
        ...(rpm.trim() ? { rpm: Number(rpm) } : {}),
      });
      setCreated(key);
      setName('');
      setModels('');
      setExpires('');
      setMaxSpend('');
      setRpm('');
      await reload();
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };

  const now = Date.now();
  return (
    <div className="page" data-testid="keys-page">
      <header className="page__header">
        <h1>{t('keys.title')}</h1>
      </header>
      <p className="muted">{t('keys.intro', { url: `${window.location.origin}/v1` })}</p>
      {created ? (
        <div className="callout callout--success" role="status" data-testid="key-created">
          <strong>{t('keys.createdTitle')}</strong>
          <p>{t('keys.createdBody')}</p>
          <div className="secret">
            <code data-testid="key-secret">{created.key}</code>
            <button
              type="button"
              className="icon-button"
              aria-label={t('keys.copy')}
              title={t('keys.copy')}
              onClick={async () => (await copyText(created.key)) && toast(t('common.copied'), 'success', 1500)}
            >
              <Icon name="copy" />
            </button>
          </div>
          <button type="button" className="button" onClick={() => setCreated(null)} data-testid="key-created-dismiss">
            {t('keys.saved')}
          </button>
        </div>
      ) : null}
      <form className="card form-card" onSubmit={create}>
        <h2>{t('keys.create')}</h2>
        <div className="form-row form-row--wrap">
          <label className="field field--grow">
            <span>{t('keys.name')}</span>
            <input required maxLength={64} value={name} onChange={(e) => setName(e.target.value)} data-testid="key-name" />
          </label>
          <label className="field field--grow">
            <span>{t('keys.models')}</span>
            <input value={models} placeholder={t('keys.modelsPlaceholder')} onChange={(e) => setModels(e.target.value)} />
          </label>
          <label className="field">
            <span>{t('keys.expires')}</span>
            <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </label>
          <label className="field">
            <span>{t('keys.maxSpend', { currency })}</span>
            <input inputMode="decimal" pattern="\d+(\.\d+)?" value={maxSpend} onChange={(e) => setMaxSpend(e.target.value)} />
          </label>
          <label className="field">
            <span>{t('keys.rpm')}</span>
            <input inputMode="numeric" pattern="\d+" value={rpm} onChange={(e) => setRpm(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="button button--primary" disabled={busy || !name.trim()} data-testid="key-create">
          <Icon name="plus" /> {t('keys.create')}
        </button>
      </form>
      <div className="table-wrap">
        <table className="table" data-testid="keys-table">
          <thead>
            <tr>
              <th scope="col">{t('keys.name')}</th>
              <th scope="col">{t('keys.key')}</th>
              <th scope="col">{t('keys.models')}</th>
              <th scope="col">{t('keys.created')}</th>
              <th scope="col">{t('keys.expires')}</th>
              <th scope="col">{t('keys.spent')}</th>
              <th scope="col">{t('keys.status')}</th>
              <th scope="col">
                <span className="sr-only">{t('common.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys?.map((key) => {
              const state = keyState(key, now);
              return (
                <tr key={key.id} data-testid="key-row" data-key-name={key.name} data-state={state}>
                  <td>{key.name}</td>
                  <td>
                    <code>{key.prefix}…</code>
                  </td>
                  <td>{key.models.length ? key.models.join(', ') : t('keys.allModels')}</td>
                  <td>{formatDate(key.created_at, language)}</td>
                  <td>{key.expires_at ? formatDate(key.expires_at, language) : t('keys.never')}</td>
                  <td>
                    {formatMoney(key.spent, currency)}
                    {key.max_spend ? ` / ${formatMoney(key.max_spend, currency)}` : ''}
                  </td>
                  <td>
                    <span className={`badge badge--${state}`}>{t(STATE_LABEL[state])}</span>
                  </td>
                  <td>
                    {state === 'active' ? (
                      <button
                        type="button"
                        className="button button--small button--danger"
                        data-testid="key-revoke"
                        onClick={async () => {
                          const ok = await confirmAction({ title: t('keys.revokeTitle'), body: t('keys.revokeBody', { name: key.name }), confirmLabel: t('keys.revoke'), danger: true });
                          if (!ok) return;
                          try {
                            await accountApi.revokeKey(key.id);
                            await reload();
                          } catch (error) {
                            toastError(error);
                          }
                        }}
                      >
                        {t('keys.revoke')}
                      </button>
                    ) : null}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {keys && keys.length === 0 ? <p className="muted table-empty">{t('keys.none')}</p> : null}
      </div>
    </div>
  );
}
