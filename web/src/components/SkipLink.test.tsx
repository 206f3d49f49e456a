import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, describe, expect, it } from 'vitest';
import { COMPOSER_INPUT_ID } from './chat/Composer';
import { MAIN_ID, SkipLink } from './SkipLink';

afterEach(cleanup);

function page(path: string, { composer = true, disabled = false } = {}) {
  render(
    <MemoryRouter initialEntries={[path]}>
      <SkipLink />
      <nav>
        <button type="button">Chat</button>
      </nav>
      <main id={MAIN_ID}>{composer ? <textarea id={COMPOSER_INPUT_ID} disabled={disabled} aria-label="Message" /> : null}</main>
    </MemoryRouter>,
  );
  return screen.getByTestId('skip-link');
}

describe('SkipLink', () => {
  it('is the first focusable element and, in a conversation, moves focus to the message box', () => {
    const link = page('/chat/s1/t1');
    expect(link.textContent).toBe('Skip to conversation');
    expect(document.querySelector('a, button, textarea')).toBe(link);
    fireEvent.click(link);
    expect(document.activeElement?.id).toBe(COMPOSER_INPUT_ID);
  });

  it('elsewhere moves focus to the main region, focusable only until focus leaves it', () => {
    const link = page('/agents', { composer: false });
    expect(link.textContent).toBe('Skip to main content');
    fireEvent.click(link);
    const main = document.getElementById(MAIN_ID)!;
    expect(document.activeElement).toBe(main);
    expect(main.getAttribute('tabindex')).toBe('-1');
    main.blur();
    expect(main.hasAttribute('tabindex')).toBe(false);
  });

  it('falls back to the main region while the message box is disabled', () => {
    fireEvent.click(page('/chat/s1', { disabled: true }));
    expect(document.activeElement?.id).toBe(MAIN_ID);
  });

  it('does not navigate (no #main-content history entry)', () => {
    const link = page('/chat/s1/t1');
    expect(fireEvent.click(link)).toBe(false);
  });
});
