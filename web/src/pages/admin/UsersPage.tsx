// Users: search; change role, group, disabled; adjust the balance with a note.

import { useEffect, useState, type FormEvent } from 'react';
import { adminApi, type UserChange } from '../../api/admin';
import type { User } from '../../api/types';
import { Modal } from '../../components/Modal';
import { useLanguage, useT } from '../../i18n';
import { formatDate, formatMoney } from '../../lib/format';
import { authStore } from '../../state/auth';
import { useStore } from '../../state/store';
import { toast, toastError } from '../../state/toasts';

function BalanceDialog({ user, onClose, onDone }: { user: User; onClose: () => void; onDone: () => void }) {
  const t = useT();
  const [amount, setAmount] = useState('');
  const [note, setNote] = useState('');
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    try {
      await adminApi.adjustBalance(user.id, amount.trim(), note);
      toast(t('common.saved'), 'success', 1500);
      onDone();
      onClose();
    } catch (error) {
      toastError(error);
    }
  };
  return (
    <Modal title={t('admin.adjustTitle', { user: user.username })} onClose={onClose} testId="balance-dialog">
      <form onSubmit={submit} className="form-grid">
        <p className="muted">{t('admin.currentBalance', { balance: formatMoney(user.balance, user.currency) })}</p>
        <label className="field">
          <span>{t('admin.amount')}</span>
          <input required inputMode="decimal" pattern="-?\d+(\.\d+)?" placeholder="10.00 / -2.50" value={amount} onChange={(e) => setAmount(e.target.value)} data-testid="balance-amount" />
        </label>
        <label className="field">
          <span>{t('admin.note')}</span>
          <input maxLength={500} value={note} onChange={(e) => setNote(e.target.value)} />
        </label>
        <button type="submit" className="button button--primary" data-testid="balance-submit">
          {t('admin.adjust')}
        </button>
      </form>
    </Modal>
  );
}

function UserRow({ user, onChanged, onAdjust, self }: { user: User; onChanged: (u: User) => void; onAdjust: () => void; self: boolean }) {
  const t = useT();
  const language = useLanguage();
  const [group, setGroup] = useState(user.group);
  const change = async (patch: UserChange) => {
    try {
      onChanged(await adminApi.updateUser(user.id, patch));
    } catch (error) {
      toastError(error);
    }
  };
  return (
    <tr data-testid="user-row" data-username={user.username}>
      <td>
        <div className="cell-main">{user.display_name || user.username}</div>
        <div className="cell-sub">
          {user.username} · {user.email}
        </div>
      </td>
      <td>
        <select value={user.role} aria-label={t('admin.role')} disabled={self} onChange={(e) => void change({ role: e.target.value })} data-testid="user-role">
          <option value="user">{t('admin.roleUser')}</option>
          <option value="admin">{t('admin.roleAdmin')}</option>
        </select>
      </td>
      <td>
        <input
          className="input--compact"
          value={group}
          aria-label={t('admin.group')}
          onChange={(e) => setGroup(e.target.value)}
          onBlur={() => group.trim() && group !== user.group && void change({ group: group.trim() })}
          onKeyDown={(e) => e.key === 'Enter' && (e.target as HTMLInputElement).blur()}
        />
      </td>
      <td>{formatMoney(user.balance, user.currency)}</td>
      <td>{formatDate(user.created_at, language)}</td>
      <td>
        <label className="switch">
          <input type="checkbox" checked={!user.disabled} disabled={self} onChange={(e) => void change({ disabled: !e.target.checked })} aria-label={t('admin.enabled')} />
          <span>{user.disabled ? t('admin.disabled') : t('admin.enabledShort')}</span>
        </label>
      </td>
      <td>
        <button type="button" className="button button--small" onClick={onAdjust} data-testid="user-adjust">
          {t('admin.adjust')}
        </button>
      </td>
    </tr>
  );
}

export default function UsersPage() {
  const t = useT();
  const me = useStore(authStore, (s) => s.user);
  const [query, setQuery] = useState('');
  const [users, setUsers] = useState<User[] | null>(null);
  const [total, setTotal] = useState(0);
  const [adjusting, setAdjusting] = useState<User | null>(null);

  const load = (q: string) =>
    adminApi
      .users(q)
      .then((answer) => {
        setUsers(answer.data);
        setTotal(answer.total);
      })
      .catch(toastError);

  useEffect(() => {
    const timer = setTimeout(() => void load(query.trim()), 250);
    return () => clearTimeout(timer);
  }, [query]);

  return (
    <section data-testid="admin-users">
      <div className="toolbar">
        <input type="search" className="toolbar__search" placeholder={t('admin.searchUsers')} aria-label={t('admin.searchUsers')} value={query} onChange={(e) => setQuery(e.target.value)} data-testid="user-search" />
        <span className="muted">{t('admin.totalUsers', { count: total })}</span>
      </div>
      <div className="table-wrap">
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t('admin.user')}</th>
              <th scope="col">{t('admin.role')}</th>
              <th scope="col">{t('admin.group')}</th>
              <th scope="col">{t('account.balance')}</th>
              <th scope="col">{t('admin.joined')}</th>
              <th scope="col">{t('admin.status')}</th>
              <th scope="col">
                <span className="sr-only">{t('common.actions')}</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {users?.map((user) => (
              <UserRow
                key={user.id}
                user={user}
                self={user.id === me?.id}
                onAdjust={() => setAdjusting(user)}
                onChanged={(updated) => setUsers((list) => list?.map((u) => (u.id === updated.id ? updated : u)) ?? null)}
              />
            ))}
          </tbody>
        </table>
      </div>
      {adjusting ? <BalanceDialog user={adjusting} onClose={() => setAdjusting(null)} onDone={() => void load(query.trim())} /> : null}
    </section>
  );
}
