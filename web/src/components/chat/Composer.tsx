// The message box. Enter sends, Shift+Enter is a newline, and Enter while an IME is composing
// (Chinese, Japanese input) confirms the composition instead of sending (lib/keys.ts, shared
// with the edit box). While a reply streams the send button becomes a stop button (Esc does the
// same, handled by the chat view).
// Files (the paperclip, a drop, or images pasted from the clipboard) upload at once and ride
// along as chips; a message waits for its uploads before it can be sent.

import { forwardRef, useImperativeHandle, useLayoutEffect, useRef, useState, type ClipboardEvent, type KeyboardEvent } from 'react';
import { readyAttachmentIds, uploadsPending } from '../../chat/uploads';
import { useT } from '../../i18n';
import { isSendKey, keyPress } from '../../lib/keys';
import { useFileDrop } from '../../lib/useFileDrop';
import { toast } from '../../state/toasts';
import { HiddenFileInput } from '../HiddenFileInput';
import { Icon } from '../Icon';
import { AttachmentChips } from './AttachmentChips';
import { useAttachments } from './useAttachments';

/** The message box's id: the skip link ("Skip to conversation") moves focus to it. */
export const COMPOSER_INPUT_ID = 'composer-input';

export interface ComposerHandle {
  focus(): void;
  /** Sends what the box holds, as Enter would (a retry after a refusal). */
  send(): void;
  /** Attaches files dropped elsewhere (the conversation area). */
  addFiles(files: File[]): void;
  /** Puts text in an empty box (a suggested question whose send was refused), never over a draft. */
  offer(text: string): void;
}

export interface ComposerProps {
  /** Resolves true when the message was accepted (the box and its attachments are cleared then). */
  onSend: (text: string, attachments: string[]) => Promise<boolean>;
  onStop: () => void;
  streaming: boolean;
  disabled?: boolean;
}

/** The files of a paste (screenshots, copied images). */
export function pastedFiles(data: Pick<DataTransfer, 'items'> | null): File[] {
  const files: File[] = [];
  for (const item of [...(data?.items ?? [])]) {
    if (item.kind !== 'file') continue;
    const file = item.getAsFile();
    if (file) files.push(file);
  }
  return files;
}

export const Composer = forwardRef<ComposerHandle, ComposerProps>(function Composer(
  { onSend, onStop, streaming, disabled },
  ref,
) {
  const t = useT();
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const area = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const attachments = useAttachments();

  const attach = (files: File[]) => {
    const refused = attachments.add(files);
    if (refused > 0) toast(t('upload.tooMany', { count: refused }), 'error', 5000);
  };
  const drop = useFileDrop(attach, !disabled);

  useImperativeHandle(ref, () => ({
    focus: () => area.current?.focus(),
    send: () => void submit(),
    addFiles: attach,
    offer: (offered: string) => setText((draft) => (draft.trim() ? draft : offered)),
  }));

  // Grow with the text up to the CSS max-height, then scroll.
  useLayoutEffect(() => {
    const element = area.current;
    if (!element) return;
    element.style.height = 'auto';
    element.style.height = `${element.scrollHeight}px`;
  }, [text]);

  const uploading = uploadsPending(attachments.items);
  // Files alone are a message too (a picture to describe).
  const hasContent = text.trim().length > 0 || readyAttachmentIds(attachments.items).length > 0;
  const canSend = hasContent && !sending && !streaming && !disabled && !uploading;

  const submit = async () => {
    if (!canSend) return;
    setSending(true);
    try {
      if (await onSend(text, readyAttachmentIds(attachments.items))) {
        setText('');
        attachments.clear();
      }
    } finally {
      setSending(false);
      area.current?.focus();
    }
  };

  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (isSendKey(keyPress(event))) {
      event.preventDefault();
      void submit();
    }
  };

  const onPaste = (event: ClipboardEvent<HTMLTextAreaElement>) => {
    const files = pastedFiles(event.clipboardData);
    if (files.length === 0) return;
    // An image copied from a page often comes with its text or HTML: keep the text, attach the file.
    if (!event.clipboardData.getData('text/plain')) event.preventDefault();
    attach(files);
  };

  return (
    <div className={drop.dragging ? 'composer composer--dropping' : 'composer'} data-testid="composer" {...drop.handlers}>
      {drop.dragging ? (
        <div className="composer__drop" aria-hidden="true">
          <Icon name="upload" /> {t('upload.dropHere')}
        </div>
      ) : null}
      <AttachmentChips items={attachments.items} onRemove={attachments.remove} />
      <textarea
        ref={area}
        id={COMPOSER_INPUT_ID}
        className="composer__input"
        rows={1}
        value={text}
        placeholder={t('composer.placeholder')}
        aria-label={t('composer.label')}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        onPaste={onPaste}
        disabled={disabled}
        data-testid="composer-input"
      />
      <div className="composer__bar">
        <button
          type="button"
          className="icon-button composer__attach"
          aria-label={t('upload.attach')}
          title={t('upload.attach')}
          disabled={disabled}
          onClick={() => picker.current?.click()}
          data-testid="attach-button"
        >
          <Icon name="paperclip" />
        </button>
        <HiddenFileInput ref={picker} onFiles={attach} testId="attach-input" />
        <span className="composer__hint">{uploading ? t('upload.waiting') : t('composer.hint')}</span>
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
