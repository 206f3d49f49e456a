// Theme toggle and language switch, used in the side nav and on the login page.

import { useT, useLanguage } from '../i18n';
import { prefsStore, setLanguage, setTheme } from '../state/prefs';
import { useStore } from '../state/store';
import { Icon } from './Icon';

export function ThemeToggle() {
  const t = useT();
  const theme = useStore(prefsStore, (s) => s.theme);
  const next = theme === 'dark' ? 'light' : 'dark';
  return (
    <button
      type="button"
      className="icon-button"
      data-testid="theme-toggle"
      aria-label={next === 'dark' ? t('prefs.themeDark') : t('prefs.themeLight')}
      title={next === 'dark' ? t('prefs.themeDark') : t('prefs.themeLight')}
      onClick={() => setTheme(next)}
    >
      <Icon name={theme === 'dark' ? 'sun' : 'moon'} />
    </button>
  );
}

export function LanguageSwitch() {
  const t = useT();
  const language = useLanguage();
  const next = language === 'en' ? 'zh-CN' : 'en';
  return (
    <button
      type="button"
      className="icon-button"
      data-testid="language-switch"
      aria-label={t('prefs.language')}
      title={next === 'en' ? 'English' : '简体中文'}
      onClick={() => setLanguage(next)}
    >
      <Icon name="globe" />
      <span className="icon-button__badge">{language === 'en' ? 'EN' : '中'}</span>
    </button>
  );
}
