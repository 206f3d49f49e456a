// Sign in and register. After success, back to where the user was sent from (`?next=`).

import { useState, type FormEvent } from 'react';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { useT } from '../i18n';
import { LanguageSwitch, ThemeToggle } from '../components/PrefsControls';
import { authStore, login, register } from '../state/auth';
import { useStore } from '../state/store';

function safeNext(next: string | null): string {
  // Only same-site paths: `?next=https://evil` must not become an open redirect.
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/chat';
}

export function LoginPage({ mode }: { mode: 'login' | 'register' }) {
  const t = useT();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const status = useStore(authStore, (s) => s.status);
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get('next'));

  if (status === 'signed-in') return <Navigate to={next} replace />;

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      if (mode === 'register') await register(name, email, password);
      else await login(name, password);
      navigate(next, { replace: true });
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="auth-page">
      <div className="auth-page__prefs">
        <ThemeToggle />
        <LanguageSwitch />
      </div>
      <form className="auth-card" onSubmit={submit} data-testid={mode === 'login' ? 'login-form' : 'register-form'}>
        <div className="auth-card__brand">
          <span className="brand-mark" aria-hidden="true">◐</span>
          <span>Oblivious</span>
        </div>
        <h1>{mode === 'login' ? t('auth.signInTitle') : t('auth.registerTitle')}</h1>
        <label className="field">
          <span>{mode === 'login' ? t('auth.usernameOrEmail') : t('auth.username')}</span>
          <input
            name="username"
            autoComplete="username"
            required
            value={name}
            onChange={(e) => setName(e.target.value)}
            data-testid="auth-username"
          />
        </label>
        {mode === 'register' ? (
          <label className="field">
            <span>{t('auth.email')}</span>
            <input
              name="email"
              type="email"
              autoComplete="email"
              required
              value={email}
              onChange={(e) => setEmail(e.target.value)}
              data-testid="auth-email"
            />
          </label>
        ) : null}
        <label className="field">
          <span>{t('auth.password')}</span>
          <input
            name="password"
            type="password"
            autoComplete={mode === 'login' ? 'current-password' : 'new-password'}
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            data-testid="auth-password"
          />
        </label>
        {error ? (
          <p className="form-error" role="alert" data-testid="auth-error">
            {error}
          </p>
        ) : null}
        <button type="submit" className="button button--primary button--block" disabled={busy} data-testid="auth-submit">
          {mode === 'login' ? t('auth.signIn') : t('auth.register')}
        </button>
        <p className="auth-card__switch">
          {mode === 'login' ? (
            <>
              {t('auth.noAccount')} <Link to={`/register${params.toString() ? `?${params}` : ''}`} data-testid="to-register">{t('auth.register')}</Link>
            </>
          ) : (
            <>
              {t('auth.haveAccount')} <Link to={`/login${params.toString() ? `?${params}` : ''}`} data-testid="to-login">{t('auth.signIn')}</Link>
            </>
          )}
        </p>
      </form>
    </div>
  );
}
