// The app's single ApiClient. Signing out anywhere (a refused refresh) notifies listeners so
// the auth store can route to the login page.

import { ApiClient } from './http';
import { localTokenStore } from './tokens';

const signedOutListeners = new Set<() => void>();

export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export const api = new ApiClient({
  tokens: localTokenStore(),
  onSignedOut: () => signedOutListeners.forEach((listener) => listener()),
});
