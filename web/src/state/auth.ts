// Who is signed in. Tokens live in localStorage (api/tokens.ts); this store holds the profile
// and balance, and follows sign-outs from other tabs through the `storage` event.

import { accountApi } from '../api/account';
import { api, onSignedOut } from '../api/client';
import { ApiError } from '../api/http';
import { TOKENS_KEY, localTokenStore } from '../api/tokens';
import type { Quota, User } from '../api/types';
import { detachAll } from '../chat/streamAttach';
import { createStore } from './store';

export type AuthStatus = 'checking' | 'signed-in' | 'signed-out';

export const authStore = createStore<{ status: AuthStatus; user: User | null; quota: Quota | null }>({
  status: api.signedIn ? 'checking' : 'signed-out',
  user: null,
  quota: null,
});

const resetListeners = new Set<() => void>();
/** Stores holding a user's data register here to be emptied at sign-out. */
export function onAccountReset(listener: () => void): void {
  resetListeners.add(listener);
}

function signedOut(): void {
  detachAll();
  resetListeners.forEach((listener) => listener());
  authStore.set({ status: 'signed-out', user: null, quota: null });
}

onSignedOut(signedOut);

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key === TOKENS_KEY && event.newValue === null && authStore.get().status === 'signed-in') signedOut();
  });
}

export async function bootstrapAuth(): Promise<void> {
  if (!api.signedIn) {
    authStore.set({ status: 'signed-out' });
    return;
  }
  try {
    const user = await accountApi.profile();
    authStore.set({ status: 'signed-in', user, quota: { balance: user.balance, currency: user.currency } });
  } catch (error) {
    if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
      api.clearTokens();
      signedOut();
    } else {
      // The server is unreachable: stay "checking" would hang the UI; show login with tokens kept.
      authStore.set({ status: 'signed-out' });
      throw error;
    }
  }
}

export async function login(loginName: string, password: string): Promise<User> {
  const answer = await accountApi.login(loginName.trim(), password);
  api.setTokens(answer);
  authStore.set({
    status: 'signed-in',
    user: answer.user,
    quota: { balance: answer.user.balance, currency: answer.user.currency },
  });
  return answer.user;
}

export async function register(username: string, email: string, password: string): Promise<User> {
  await accountApi.register(username.trim(), email.trim(), password);
  return login(username, password);
}

export async function logout(): Promise<void> {
  const tokens = localTokenStore().get();
  if (tokens) await accountApi.logout(tokens.refresh_token).catch(() => undefined);
  api.clearTokens();
  signedOut();
}

export async function refreshQuota(): Promise<void> {
  try {
    const quota = await accountApi.quota();
    authStore.set({ quota });
  } catch {
    // The balance is informative; a failed refresh keeps the last value.
  }
}

export async function refreshProfile(): Promise<void> {
  const user = await accountApi.profile();
  authStore.set({ user, quota: { balance: user.balance, currency: user.currency } });
}

export function isAdmin(user: User | null): boolean {
  return user?.role === 'admin';
}
