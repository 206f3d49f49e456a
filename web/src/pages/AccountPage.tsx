// The user's account: balance and redemption, usage of the last 30 days, profile and password,
// the model blank chats start with, the MCP tool servers chats may use, webhooks for the account's
// events; on a phone also theme, language and sign-out (the bottom bar has room for the pages only).

import { useEffect, useState, type FormEvent } from 'react';
import { accountApi } from '../api/account';
import type { UsageRow } from '../api/types';
import { DefaultModelSection } from '../components/DefaultModelSection';
import { Icon } from '../components/Icon';
import { LanguageSwitch, ThemeToggle } from '../components/PrefsControls';
import { useSignOut } from '../components/SignOut';
import { ToolServersSection } from '../components/toolServers/ToolServersSection';
import { WebhooksSection } from '../components/webhooks/WebhooksSection';
import { useT } from '../i18n';
import { formatMoney, formatTokens } from '../lib/format';
import { PHONE_QUERY, useMediaQuery } from '../lib/useMediaQuery';
import { authStore, refreshProfile, refreshQuota } from '../state/auth';
import { useStore } from '../state/store';
import { toast, toastError } from '../state/toasts';

/** Theme, language and sign-out, which the side nav holds on a wider screen. */
function DeviceCard() {
  const t = useT();
  const signOut = useSignOut();
  return (
    <section className="card device-card" data-testid="account-device">
      <h2>{t('account.device')}</h2>
      <div className="device-card__row">
        <span>{t('prefs.theme')}</span>
        <ThemeToggle />
      </div>
      <div className="device-card__row">
        <span>{t('prefs.languageLabel')}</span>
        <LanguageSwitch />
      </div>
      <button type="button" className="button button--block device-card__logout" onClick={() => void signOut()} data-testid="logout">
        <Icon name="logout" /> {t('auth.logout')}
      </button>
    </section>
  );
}

export default function AccountPage() {
  const t = useT();
  const phone = useMediaQuery(PHONE_QUERY);
  const user = useStore(authStore, (s) => s.user);
  const quota = useStore(authStore, (s) => s.quota);
  const [code, setCode] = useState('');
  const [usage, setUsage] = useState<{ data: UsageRow[]; currency: string } | null>(null);
  const [displayName, setDisplayName] = useState(user?.display_name ?? '');
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    void refreshQuota();
    accountApi.usage().then(setUsage).catch(() => undefined);
  }, []);

  const redeem = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      const answer = await accountApi.redeem(code.trim());
      toast(t('account.redeemed', { amount: formatMoney(answer.amount, answer.currency) }), 'success');
      setCode('');
      authStore.set({ quota: { balance: answer.balance, currency: answer.currency } });
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };

  const saveProfile = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await accountApi.updateProfile({
        display_name: displayName,
        ...(next ? { current_password: current, new_password: next } : {}),
      });
      await refreshProfile();
      setCurrent('');
      setNext('');
      toast(t('common.saved'), 'success', 1500);
    } catch (error) {
      toastError(error);
    }
  };

  const totals = usage?.data.reduce(
    (sum, row) => ({
      requests: sum.requests + row.requests,
      input: sum.input + row.input_tokens,
      output: sum.output + row.output_tokens,
    }),
    { requests: 0, input: 0, output: 0 },
  );

  return (
    <div className="page" data-testid="account-page">
      <header className="page__header">
        <h1>{t('account.title')}</h1>
      </header>
      <div className="card-grid card-grid--wide">
        <section className="card">
          <h2>{t('account.balance')}</h2>
          <p className="big-number" data-testid="account-balance">
            {formatMoney(quota?.balance, quota?.currency)}
          </p>
          <form className="inline-form" onSubmit={redeem}>
            <label className="field field--grow">
              <span>{t('account.redeemCode')}</span>
              <input value={code} required onChange={(e) => setCode(e.target.value)} autoComplete="off" data-testid="redeem-input" />
            </label>
            <button type="submit" className="button button--primary" disabled={busy || !code.trim()} data-testid="redeem-submit">
              {t('account.redeem')}
            </button>
          </form>
        </section>
        <section className="card">
          <h2>{t('account.usage30')}</h2>
          {totals ? (
            <dl className="stats-list">
              <div>
                <dt>{t('stats.requests')}</dt>
                <dd>{totals.requests}</dd>
              </div>
              <div>
                <dt>{t('stats.inputTokens')}</dt>
                <dd>{formatTokens(totals.input)}</dd>
              </div>
              <div>
                <dt>{t('stats.outputTokens')}</dt>
                <dd>{formatTokens(totals.output)}</dd>
              </div>
            </dl>
          ) : (
            <p className="muted">{t('common.loading')}</p>
          )}
        </section>
      </div>
      <form className="card form-card" onSubmit={saveProfile}>
        <h2>{t('account.profile')}</h2>
        <div className="form-row form-row--wrap">
          <label className="field field--grow">
            <span>{t('auth.username')}</span>
            <input value={user?.username ?? ''} readOnly />
          </label>
          <label className="field field--grow">
            <span>{t('auth.email')}</span>
            <input value={user?.email ?? ''} readOnly />
          </label>
          <label className="field field--grow">
            <span>{t('account.displayName')}</span>
            <input value={displayName} maxLength={64} onChange={(e) => setDisplayName(e.target.value)} />
          </label>
        </div>
        <div className="form-row form-row--wrap">
          <label className="field field--grow">
            <span>{t('account.currentPassword')}</span>
            <input type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} />
          </label>
          <label className="field field--grow">
            <span>{t('account.newPassword')}</span>
            <input type="password" autoComplete="new-password" value={next} onChange={(e) => setNext(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="button button--primary">
          {t('common.save')}
        </button>
      </form>
      <DefaultModelSection />
      <ToolServersSection />
      <WebhooksSection />
      {phone ? <DeviceCard /> : null}
    </div>
  );
}
