import { describe, expect, it } from 'vitest';
import { isComposing, isSendKey, type KeyPress } from './keys';

const press = (extra: Partial<KeyPress> = {}): KeyPress => ({ key: 'Enter', shiftKey: false, altKey: false, ...extra });

describe('isSendKey', () => {
  it('sends on Enter, with or without Ctrl or Cmd', () => {
    expect(isSendKey(press())).toBe(true);
    // Ctrl+Enter sent from the edit box before; it still sends everywhere.
    expect(isSendKey({ ...press(), ctrlKey: true } as KeyPress)).toBe(true);
  });

  it('keeps Shift+Enter and Alt+Enter for a newline, and ignores other keys', () => {
    expect(isSendKey(press({ shiftKey: true }))).toBe(false);
    expect(isSendKey(press({ altKey: true }))).toBe(false);
    expect(isSendKey(press({ key: 'a' }))).toBe(false);
  });

  it('never sends while an input method is composing', () => {
    expect(isSendKey(press({ isComposing: true }))).toBe(false);
    // Safari: the Enter that ends a composition reports keyCode 229 and isComposing false.
    expect(isSendKey(press({ keyCode: 229 }))).toBe(false);
    expect(isSendKey(press({ keyCode: 13, isComposing: false }))).toBe(true);
  });
});

describe('isComposing', () => {
  it('is true for either sign of a composition', () => {
    expect(isComposing({ isComposing: true })).toBe(true);
    expect(isComposing({ keyCode: 229 })).toBe(true);
    expect(isComposing({})).toBe(false);
  });
});
