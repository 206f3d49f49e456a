import { describe, expect, it } from 'vitest';
import { en } from './en';
import { dictionaries, translate } from './index';
import { zhCN } from './zh-CN';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('dictionaries', () => {
  it('zh-CN has exactly the keys of English', () => {
    const english = Object.keys(en).sort();
    const chinese = Object.keys(zhCN).sort();
    expect(chinese.filter((k) => !english.includes(k)), 'keys only in zh-CN').toEqual([]);
    expect(english.filter((k) => !chinese.includes(k)), 'keys missing from zh-CN').toEqual([]);
  });

  it('every string is non-empty in both languages', () => {
    for (const [language, dictionary] of Object.entries(dictionaries)) {
      for (const [key, value] of Object.entries(dictionary)) {
        expect(value.trim(), `${language} ${key}`).not.toBe('');
      }
    }
  });

  it('both languages use the same placeholders for each key', () => {
    for (const key of Object.keys(en) as (keyof typeof en)[]) {
      expect(placeholders(zhCN[key]), key).toEqual(placeholders(en[key]));
    }
  });

  it('the Chinese dictionary is actually translated', () => {
    const same = (Object.keys(en) as (keyof typeof en)[]).filter((k) => en[k] === zhCN[k] && /[a-z]{3}/i.test(en[k]));
    // A few words are the same in both (JSON, Markdown); most strings must differ.
    expect(same.length).toBeLessThan(5);
  });
});

describe('translate', () => {
  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('en', 'session.deleteBody', { title: 'X' })).toBe('“X” and all its topics and messages will be deleted.');
    expect(translate('zh-CN', 'admin.totalUsers', { count: 3 })).toBe('共 3 位用户');
    expect(translate('en', 'admin.totalUsers')).toBe('{count} users');
  });
});
