import { useSyncExternalStore } from 'react';

/** Whether a CSS media query matches, updating on change. */
export function useMediaQuery(query: string): boolean {
  return useSyncExternalStore(
    (notify) => {
      if (typeof window.matchMedia !== 'function') return () => undefined;
      const list = window.matchMedia(query);
      list.addEventListener('change', notify);
      return () => list.removeEventListener('change', notify);
    },
    () => (typeof window.matchMedia === 'function' ? window.matchMedia(query).matches : false),
    () => false,
  );
}

/** The phone layout: one pane at a time. */
export const PHONE_QUERY = '(max-width: 480px)';
/** Narrow layout: the topic column becomes a drawer. */
export const NARROW_QUERY = '(max-width: 900px)';
