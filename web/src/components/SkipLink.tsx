// The first Tab stop of every signed-in page: hidden until focused, it moves focus past the
// navigation and the chat list — to the message box in a conversation, else to the page's main
// region — so a keyboard user does not tab through ~30 controls first (WCAG 2.4.1).

import type { MouseEvent } from 'react';
import { useLocation } from 'react-router-dom';
import { useT } from '../i18n';
import { COMPOSER_INPUT_ID } from './chat/Composer';

/** The id of the shell's <main>, the skip link's fallback target. */
export const MAIN_ID = 'main-content';

/**
 * Focuses a region that is not a control. It is focusable only until it loses focus again: a
 * lasting tabindex would make every click on its text move focus there.
 */
function focusRegion(region: HTMLElement | null) {
  if (!region) return;
  region.setAttribute('tabindex', '-1');
  region.addEventListener('blur', () => region.removeAttribute('tabindex'), { once: true });
  region.focus();
}

export function SkipLink() {
  const t = useT();
  const { pathname } = useLocation();
  const inConversation = pathname.startsWith('/chat/');

  const skip = (event: MouseEvent<HTMLAnchorElement>) => {
    // Focus moves by hand: following "#main-content" would add a history entry and scroll only.
    event.preventDefault();
    const composer = document.getElementById(COMPOSER_INPUT_ID) as HTMLTextAreaElement | null;
    if (inConversation && composer && !composer.disabled) composer.focus();
    else focusRegion(document.getElementById(MAIN_ID));
  };

  return (
    <a href={`#${MAIN_ID}`} className="skip-link" onClick={skip} data-testid="skip-link">
      {inConversation ? t('nav.skipToConversation') : t('nav.skipToContent')}
    </a>
  );
}
