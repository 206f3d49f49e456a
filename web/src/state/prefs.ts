// Theme and language, persisted in localStorage. The first visit follows the system:
// prefers-color-scheme for the theme, navigator.language for the language.

import { createStore } from './store';

export type Theme = 'light' | 'dark';
export type Language = 'en' | 'zh-CN';

export const THEME_KEY = 'oblivious.theme';
export const LANGUAGE_KEY = 'oblivious.language';

function read(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null;
  }
}

export function initialTheme(): Theme {
  const saved = read(THEME_KEY);
  if (saved === 'light' || saved === 'dark') return saved;
  return typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: dark)').matches
    ? 'dark'
    : 'light';
}

export function initialLanguage(): Language {
  const saved = read(LANGUAGE_KEY);
  if (saved === 'en' || saved === 'zh-CN') return saved;
  const wanted = typeof navigator !== 'undefined' ? navigator.language : 'en';
  return wanted.toLowerCase().startsWith('zh') ? 'zh-CN' : 'en';
}

export const prefsStore = createStore<{ theme: Theme; language: Language }>({
  theme: initialTheme(),
  language: initialLanguage(),
});

function apply(): void {
  const { theme, language } = prefsStore.get();
  const root = document.documentElement;
  root.dataset.theme = theme;
  root.style.colorScheme = theme;
  root.lang = language;
}

apply();
prefsStore.subscribe(apply);

export function setTheme(theme: Theme): void {
  window.localStorage.setItem(THEME_KEY, theme);
  prefsStore.set({ theme });
}

export function setLanguage(language: Language): void {
  window.localStorage.setItem(LANGUAGE_KEY, language);
  prefsStore.set({ language });
}
