// Routes and the sign-in gate. Client routes fall back to index.html on the server, so deep
// links (/chat/<session>/<topic>) load directly.

import { lazy, Suspense, useEffect, type ReactNode } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { AppShell } from './components/AppShell';
import { ConfirmHost } from './components/Confirm';
import { Toasts } from './components/Toasts';
import { useT } from './i18n';
import { ChatPage } from './pages/ChatPage';
import { LoginPage } from './pages/LoginPage';
import { authStore, bootstrapAuth, isAdmin } from './state/auth';
import { useStore } from './state/store';

const AgentsPage = lazy(() => import('./pages/AgentsPage'));
const KeysPage = lazy(() => import('./pages/KeysPage'));
const KnowledgePage = lazy(() => import('./pages/KnowledgePage'));
const KnowledgeBasePage = lazy(() => import('./pages/KnowledgeBasePage'));
const AccountPage = lazy(() => import('./pages/AccountPage'));
const AdminLayout = lazy(() => import('./pages/admin/AdminLayout'));
const DashboardPage = lazy(() => import('./pages/admin/DashboardPage'));
const UsersPage = lazy(() => import('./pages/admin/UsersPage'));
const CodesPage = lazy(() => import('./pages/admin/CodesPage'));
const LogsPage = lazy(() => import('./pages/admin/LogsPage'));
const StatsPage = lazy(() => import('./pages/admin/StatsPage'));
const ChannelsPage = lazy(() => import('./pages/admin/ChannelsPage'));
const AdminWebhooksPage = lazy(() => import('./pages/admin/WebhooksPage'));

function Splash() {
  const t = useT();
  return (
    <div className="splash" role="status" data-testid="splash">
      <span className="spinner" aria-hidden="true" />
      <span>{t('common.loading')}</span>
    </div>
  );
}

function RequireAuth({ children }: { children: ReactNode }) {
  const status = useStore(authStore, (s) => s.status);
  const location = useLocation();
  if (status === 'checking') return <Splash />;
  if (status === 'signed-out') {
    const next = location.pathname + location.search;
    return <Navigate to={`/login${next && next !== '/' ? `?next=${encodeURIComponent(next)}` : ''}`} replace />;
  }
  return <>{children}</>;
}

function RequireAdmin({ children }: { children: ReactNode }) {
  const user = useStore(authStore, (s) => s.user);
  if (!isAdmin(user)) return <Navigate to="/chat" replace />;
  return <>{children}</>;
}

export function App() {
  useEffect(() => {
    bootstrapAuth().catch(() => undefined);
  }, []);
  return (
    <BrowserRouter>
      <Suspense fallback={<Splash />}>
        <Routes>
          <Route path="/login" element={<LoginPage mode="login" />} />
          <Route path="/register" element={<LoginPage mode="register" />} />
          <Route
            element={
              <RequireAuth>
                <AppShell />
              </RequireAuth>
            }
          >
            <Route path="/chat" element={<ChatPage />} />
            <Route path="/chat/:sessionId" element={<ChatPage />} />
            <Route path="/chat/:sessionId/:topicId" element={<ChatPage />} />
            <Route path="/agents" element={<AgentsPage />} />
            <Route path="/knowledge" element={<KnowledgePage />} />
            <Route path="/knowledge/:kbId" element={<KnowledgeBasePage />} />
            <Route path="/keys" element={<KeysPage />} />
            <Route path="/account" element={<AccountPage />} />
            <Route
              path="/admin"
              element={
                <RequireAdmin>
                  <AdminLayout />
                </RequireAdmin>
              }
            >
              <Route index element={<Navigate to="/admin/dashboard" replace />} />
              <Route path="dashboard" element={<DashboardPage />} />
              <Route path="users" element={<UsersPage />} />
              <Route path="codes" element={<CodesPage />} />
              <Route path="logs" element={<LogsPage />} />
              <Route path="stats" element={<StatsPage />} />
              <Route path="channels" element={<ChannelsPage />} />
              <Route path="webhooks" element={<AdminWebhooksPage />} />
            </Route>
          </Route>
          <Route path="*" element={<Navigate to="/chat" replace />} />
        </Routes>
      </Suspense>
      <ConfirmHost />
      <Toasts />
    </BrowserRouter>
  );
}
