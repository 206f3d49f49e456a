// What a chat is called on screen: its title, or — for a blank chat the server has not named yet
// (its first topic names it) — "New chat" in the user's language.

import type { Session } from '../api/types';
import type { Translate } from '../i18n';

export function sessionTitle(session: Pick<Session, 'title' | 'title_is_placeholder'>, t: Translate): string {
  if (session.title_is_placeholder) return t('session.defaultTitle');
  return session.title || t('session.untitled');
}
