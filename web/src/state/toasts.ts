// Short notices at the bottom of the screen (copied, saved, errors).

import { createStore } from './store';

export interface Toast {
  id: number;
  kind: 'info' | 'error' | 'success';
  text: string;
}

export const toastStore = createStore<{ toasts: Toast[] }>({ toasts: [] });
let next = 1;

export function toast(text: string, kind: Toast['kind'] = 'info', ms = 3500): void {
  const id = next++;
  toastStore.set((s) => ({ toasts: [...s.toasts.slice(-3), { id, kind, text }] }));
  setTimeout(() => dismissToast(id), ms);
}

export function dismissToast(id: number): void {
  toastStore.set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}

/** A toast for a failed action; ApiErrors carry the server's message. */
export function toastError(error: unknown): void {
  const text = error instanceof Error ? error.message : String(error);
  toast(text, 'error', 6000);
}
