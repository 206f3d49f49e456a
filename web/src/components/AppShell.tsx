// The slim navigation bar on the far left (LobeChat's side nav): chat, agents, knowledge, keys, account,
// admin for administrators; theme, language and sign-out at the bottom. On a phone it becomes
// a bottom bar of the pages alone: theme, language and sign-out move to the Account page, where
// signing out is not one slip of the thumb from the language switch.
// Before it all, the skip link: the first Tab stop.

import { useEffect } from 'react';
import { NavLink, Outlet } from 'react-router-dom';
import { useT } from '../i18n';
import { onReplySettled } from '../chat/streamAttach';
import { authStore, isAdmin, refreshQuota } from '../state/auth';
import { useStore } from '../state/store';
import { formatMoney } from '../lib/format';
import { PHONE_QUERY, useMediaQuery } from '../lib/useMediaQuery';
import { Icon, type IconName } from './Icon';
import { LanguageSwitch, ThemeToggle } from './PrefsControls';
import { useSignOut } from './SignOut';
import { MAIN_ID, SkipLink } from './SkipLink';
import type { MessageKey } from '../i18n';

function NavItem({ to, icon, label, testId }: { to: string; icon: IconName; label: MessageKey; testId: string }) {
  const t = useT();
  return (
    <NavLink
      to={to}
      className={({ isActive }) => (isActive ? 'nav-item nav-item--active' : 'nav-item')}
      aria-label={t(label)}
      title={t(label)}
      data-testid={testId}
    >
      <Icon name={icon} size={20} />
    </NavLink>
  );
}

export function AppShell() {
  const t = useT();
  const signOut = useSignOut();
  const phone = useMediaQuery(PHONE_QUERY);
  const user = useStore(authStore, (s) => s.user);
  const quota = useStore(authStore, (s) => s.quota);

  useEffect(() => onReplySettled(() => void refreshQuota()), []);

  return (
    <div className="shell">
      <SkipLink />
      <nav className="side-nav" aria-label={t('nav.main')}>
        <NavLink to="/account" className="side-nav__me" aria-label={t('nav.account')} title={user?.username}>
          <span className="avatar avatar--user" aria-hidden="true">
            {(user?.display_name || user?.username || '?').slice(0, 1).toUpperCase()}
          </span>
        </NavLink>
        <NavItem to="/chat" icon="chat" label="nav.chat" testId="nav-chat" />
        <NavItem to="/agents" icon="sparkles" label="nav.agents" testId="nav-agents" />
        <NavItem to="/knowledge" icon="book" label="nav.knowledge" testId="nav-knowledge" />
        <NavItem to="/keys" icon="key" label="nav.keys" testId="nav-keys" />
        <NavItem to="/account" icon="wallet" label="nav.account" testId="nav-account" />
        {isAdmin(user) ? <NavItem to="/admin" icon="shield" label="nav.admin" testId="nav-admin" /> : null}
        <div className="side-nav__spacer" />
        <NavLink to="/account" className="side-nav__balance" data-testid="balance" title={t('account.balance')}>
          {formatMoney(quota?.balance, quota?.currency)}
        </NavLink>
        {phone ? null : (
          <>
            <ThemeToggle />
            <LanguageSwitch />
            <button
              type="button"
              className="icon-button side-nav__logout"
              aria-label={t('auth.logout')}
              title={t('auth.logout')}
              data-testid="logout"
              onClick={() => void signOut()}
            >
              <Icon name="logout" />
            </button>
          </>
        )}
      </nav>
      <main className="shell__main" id={MAIN_ID}>
        <Outlet />
      </main>
    </div>
  );
}
