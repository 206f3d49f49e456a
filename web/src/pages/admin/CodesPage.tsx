// Redemption codes: mint a batch (the codes are shown once), list existing ones.

import { useEffect, useState, type FormEvent } from 'react';
import { adminApi } from '../../api/admin';
import type { MintedCode, RedeemCode } from '../../api/types';
import { Icon } from '../../components/Icon';
import { useLanguage, useT } from '../../i18n';
import { copyText } from '../../lib/clipboard';
import { formatDate, formatDateTime, formatMoney } from '../../lib/format';
import { authStore } from '../../state/auth';
import { useStore } from '../../state/store';
import { toast, toastError } from '../../state/toasts';

export default function CodesPage() {
  const t = useT();
  const language = useLanguage();
  const currency = useStore(authStore, (s) => s.quota?.currency ?? 'USD');
  const [codes, setCodes] = useState<RedeemCode[] | null>(null);
  const [minted, setMinted] = useState<MintedCode[] | null>(null);
  const [count, setCount] = useState('1');
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const [expires, setExpires] = useState('');

  const load = () => adminApi.codes().then((answer) => setCodes(answer.data)).catch(toastError);
  useEffect(() => {
    void load();
  }, []);

  const mint = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const answer = await adminApi.mintCodes(
        Number(count),
        amount.trim(),
        note,
        expires ? new Date(`${expires}T23:59:59`).getTime() : undefined,
      );
      setMinted(answer.data);
      await load();
    } catch (error) {
      toastError(error);
    }
  };

  return (
    <section data-testid="admin-codes">
      <form className="card form-card" onSubmit={mint}>
        <h2>{t('admin.mint')}</h2>
        <div className="form-row form-row--wrap">
          <label className="field">
            <span>{t('admin.count')}</span>
            <input type="number" min={1} max={1000} required value={count} onChange={(e) => setCount(e.target.value)} data-testid="mint-count" />
          </label>
          <label className="field">
            <span>{t('admin.amountIn', { currency })}</span>
            <input required inputMode="decimal" pattern="\d+(\.\d+)?" value={amount} onChange={(e) => setAmount(e.target.value)} data-testid="mint-amount" />
          </label>
          <label className="field field--grow">
            <span>{t('admin.note')}</span>
            <input value={note} onChange={(e) => setNote(e.target.value)} />
          </label>
          <label className="field">
            <span>{t('keys.expires')}</span>
            <input type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
          </label>
        </div>
        <button type="submit" className="button button--primary" data-testid="mint-submit">
          <Icon name="plus" /> {t('admin.mint')}
        </button>
      </form>
      {minted ? (
        <div className="callout callout--success" role="status" data-testid="minted">
          <strong>{t('admin.mintedTitle', { count: minted.length })}</strong>
          <p>{t('admin.mintedBody')}</p>
          <ul className="minted-codes">
            {minted.map((code) => (
              <li key={code.id}>
                <code data-testid="minted-code">{code.code}</code>
              </li>
            ))}
          </ul>
          <div className="callout__actions">
            <button type="button" className="button" onClick={async () => (await copyText(minted.map((c) => c.code).join('\n'))) && toast(t('common.copied'), 'success', 1500)}>
              <Icon name="copy" /> {t('admin.copyAll')}
            </button>
            <button type="button" className="button" onClick={() => setMinted(null)}>
              {t('common.close')}
            </button>
          </div>
        </div>
      ) : null}
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t('admin.code')}</th>
              <th scope="col">{t('admin.amount')}</th>
              <th scope="col">{t('admin.note')}</th>
              <th scope="col">{t('keys.created')}</th>
              <th scope="col">{t('keys.expires')}</th>
              <th scope="col">{t('admin.redeemedAt')}</th>
            </tr>
          </thead>
          <tbody>
            {codes?.map((code) => (
              <tr key={code.id} data-testid="code-row">
                <td>
                  <code>{code.prefix}…</code>
                </td>
                <td>{formatMoney(code.amount, currency)}</td>
                <td>{code.note}</td>
                <td>{formatDate(code.created_at, language)}</td>
                <td>{code.expires_at ? formatDate(code.expires_at, language) : t('keys.never')}</td>
                <td>{code.redeemed_at ? formatDateTime(code.redeemed_at, language) : <span className="badge badge--active">{t('admin.unused')}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {codes && codes.length === 0 ? <p className="muted table-empty">{t('admin.noCodes')}</p> : null}
      </div>
    </section>
  );
}
