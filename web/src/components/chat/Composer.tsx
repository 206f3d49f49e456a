// The message box. Enter sends, Shift+Enter is a newline, and Enter while an IME is composing
// (Chinese, Japanese input) confirms the composition instead of sending. While a reply streams
// the send button becomes a stop button (Esc does the same, handled by the chat view).

import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { useT } from '../../i18n';
import { Icon } from '../Icon';

export interface ComposerHandle {
  focus(): void;
}

export interface ComposerProps {
  /** Resolves true when the message was accepted (the box is cleared then). */
  onSend: (text: string) => Promise<boolean>;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
}

/** Whether this key press should send: plain Enter, not during IME composition. */
export function isSendKey(event: Pick<KeyboardEvent, 'key' | 'shiftKey' | 'altKey' | 'ctrlKey' | 'metaKey'> & { isComposing?: boolean; keyCode?: number }): boolean {
  if (event.key !== 'Enter' || event.shiftKey || event.altKey) return false;
  // keyCode 229 is what browsers report for keys that an IME is processing.
  if (event.isComposing || event.keyCode === 229) return false;
  return true;
}

export const Composer = forwardRef<ComposerHandle, ComposerProps>(function Composer(
  { onSend, onStop, streaming, disabled },
  ref,
) {
  const t = useT();
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);

  useImperativeHandle(ref, () => ({ focus: () => area.current?.focus() }), []);

  // Grow with the text up to the CSS max-height, then scroll.
  useLayoutEffect(() => {
    const element = area.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${element.scrollHeight}px`;
  }, [text]);

  const canSend = text.trim().length > 0 && !sending && !streaming && !disabled;

  const submit = async () => {
    if (!canSend) return;
    setSending(true);
    try {
      if (await onSend(text)) setText('');
    } finally {
      setSending(false);
      area.current?.focus();
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (isSendKey({ ...event, isComposing: event.nativeEvent.isComposing, keyCode: event.keyCode })) {
      event.preventDefault();
      void submit();
    }
  };

  return (
    <div className="composer" data-testid="composer">
      <textarea
        ref={area}
        className="composer__input"
        rows={1}
        value={text}
        placeholder={t('composer.placeholder')}
        aria-label={t('composer.label')}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        disabled={disabled}
        data-testid="composer-input"
      />
      <div className="composer__bar">
        <span className="composer__hint">{t('composer.hint')}</span>
        {streaming ? (
          <button
            type="button"
            className="button button--danger composer__button"
            onClick={onStop}
            aria-label={t('composer.stop')}
            data-testid="stop-button"
          >
            <Icon name="stop" /> <span>{t('composer.stop')}</span>
          </button>
        ) : (
          <button
            type="button"
            className="button button--primary composer__button"
            onClick={() => void submit()}
            disabled={!canSend}
            aria-label={t('composer.send')}
            data-testid="send-button"
          >
            <Icon name="send" /> <span>{t('composer.send')}</span>
          </button>
        )}
      </div>
    </div>
  );
});
