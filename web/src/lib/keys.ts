// Keys shared by every box that sends a message (the composer, the edit box of a past question)
// and by lists chosen from the keyboard: Enter sends or chooses, Shift+Enter is a newline, and
// Enter that confirms an input method's composition (Chinese, Japanese) does neither.

import type { KeyboardEvent } from 'react';

/** The fields of a key press these checks read (a DOM or React keyboard event has them). */
export interface KeyPress {
  key: string;
  shiftKey: boolean;
  altKey: boolean;
  isComposing?: boolean;
  keyCode?: number;
}

/** Whether an input method is composing: the key belongs to it, not to the page. */
export function isComposing(press: Pick<KeyPress, 'isComposing' | 'keyCode'>): boolean {
  // keyCode 229 is what browsers report for keys an IME processes; Safari sends the Enter that
  // ends a composition with isComposing already false but keyCode still 229.
  return Boolean(press.isComposing) || press.keyCode === 229;
}

/** Whether this key press sends the message: Enter without Shift or Alt, not while composing. */
export function isSendKey(press: KeyPress): boolean {
  if (press.key !== 'Enter' || press.shiftKey || press.altKey) return false;
  return !isComposing(press);
}

/** The KeyPress of a React event (its IME state is only on the native event). */
export function keyPress(event: KeyboardEvent): KeyPress {
  return {
    key: event.key,
    shiftKey: event.shiftKey,
    altKey: event.altKey,
    isComposing: event.nativeEvent.isComposing,
    keyCode: event.keyCode,
  };
}
