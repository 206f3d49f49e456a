// Where the access JWT and the rotating refresh token live. localStorage (not memory) so a
// reload keeps the login and every tab sees a rotation another tab made.

export interface Tokens {
  access_token: string;
  refresh_token: string;
}

export interface TokenStore {
  get(): Tokens | null;
  set(tokens: Tokens): void;
  clear(): void;
}

export const TOKENS_KEY = 'oblivious.auth';

export function localTokenStore(storage: Storage = window.localStorage, key = TOKENS_KEY): TokenStore {
  return {
    get() {
      try {
        const raw = storage.getItem(key);
        if (!raw) return null;
        const parsed = JSON.parse(raw) as Partial<Tokens>;
        if (typeof parsed.access_token !== 'string' || typeof parsed.refresh_token !== 'string') return null;
        return { access_token: parsed.access_token, refresh_token: parsed.refresh_token };
      } catch {
        return null;
      }
    },
    set(tokens) {
      storage.setItem(key, JSON.stringify({ access_token: tokens.access_token, refresh_token: tokens.refresh_token }));
    },
    clear() {
      storage.removeItem(key);
    },
  };
}

/** A store for tests and for code that must not touch localStorage. */
export function memoryTokenStore(initial: Tokens | null = null): TokenStore {
  let current = initial;
  return {
    get: () => current,
    set: (tokens) => {
      current = { ...tokens };
    },
    clear: () => {
      current = null;
    },
  };
}
