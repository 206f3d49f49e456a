// Every UI string goes through t(key, params). Two dictionaries: English is the reference and
// the type of keys; zh-CN must have every key (the compiler and a test both check). `{name}`
// placeholders are filled from params.

import { useCallback } from 'react';
import { prefsStore, type Language } from '../state/prefs';
import { useStore } from '../state/store';
import { en, type MessageKey } from './en';
import { zhCN } from './zh-CN';

export type { MessageKey };

export const dictionaries: Record<Language, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };

export type Params = Record<string, string | number>;

export function translate(language: Language, key: MessageKey, params?: Params): string {
  const template = dictionaries[language][key] ?? en[key] ?? key;
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (whole, name: string) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

export type Translate = (key: MessageKey, params?: Params) => string;

export function useT(): Translate {
  const language = useStore(prefsStore, (s) => s.language);
  return useCallback((key: MessageKey, params?: Params) => translate(language, key, params), [language]);
}

export function useLanguage(): Language {
  return useStore(prefsStore, (s) => s.language);
}

/** For code outside components (toasts from actions). */
export function t(key: MessageKey, params?: Params): string {
  return translate(prefsStore.get().language, key, params);
}
