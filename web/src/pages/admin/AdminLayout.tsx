// Admin area: tabs for the dashboard (the landing page), users, redemption codes, request logs,
// usage statistics, channels and platform webhooks.

import { NavLink, Outlet } from 'react-router-dom';
import { Icon, type IconName } from '../../components/Icon';
import { useT, type MessageKey } from '../../i18n';

const TABS: { to: string; label: MessageKey; icon: IconName }[] = [
  { to: '/admin/dashboard', label: 'admin.dashboard', icon: 'chart' },
  { to: '/admin/users', label: 'admin.users', icon: 'users' },
  { to: '/admin/codes', label: 'admin.codes', icon: 'ticket' },
  { to: '/admin/logs', label: 'admin.logs', icon: 'list' },
  { to: '/admin/stats', label: 'admin.stats', icon: 'wallet' },
  { to: '/admin/channels', label: 'admin.channels', icon: 'server' },
  { to: '/admin/webhooks', label: 'admin.webhooks', icon: 'send' },
];

export default function AdminLayout() {
  const t = useT();
  return (
    <div className="page page--admin" data-testid="admin-page">
      <header className="page__header">
        <h1>{t('admin.title')}</h1>
      </header>
      <nav className="tabs tabs--nav" aria-label={t('admin.title')}>
        {TABS.map((tab) => (
          <NavLink key={tab.to} to={tab.to} className={({ isActive }) => (isActive ? 'tab tab--active' : 'tab')} data-testid={`admin-tab-${tab.to.split('/').pop()}`}>
            <Icon name={tab.icon} size={15} /> {t(tab.label)}
          </NavLink>
        ))}
      </nav>
      <Outlet />
    </div>
  );
}
