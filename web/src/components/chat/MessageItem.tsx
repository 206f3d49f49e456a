// One message of the conversation: reasoning (collapsible), the tool calls of a reply (cards,
// above its text), content (Markdown for replies, plain text for what the user typed) with its
// citations and sources, the files a question carried, status, usage and cost, and its actions.

import { memo, useId, useMemo, useState, type KeyboardEvent } from 'react';
import type { Message, Source } from '../../api/types';
import { sourceIndices } from '../../chat/sources';
import { hasOpenCall, normalizeToolCalls } from '../../chat/toolCalls';
import { useLanguage, useT } from '../../i18n';
import { formatMoney, formatTime, formatTokens } from '../../lib/format';
import { isSendKey, keyPress } from '../../lib/keys';
import { Markdown, type Citations } from '../../markdown/Markdown';
import { Avatar } from '../Avatar';
import { Icon } from '../Icon';
import { CitationChip } from './CitationChip';
import { MessageAttachments } from './MessageAttachments';
import { SiblingSwitch } from './SiblingSwitch';
import { SourcePanel } from './SourcePanel';
import { SourcesList } from './SourcesList';
import { ToolCallList } from './ToolCallCard';

const NO_SOURCES: Source[] = [];

/** Citation chips for the sources of a reply (undefined when it has none). */
function useCitations(sources: readonly Source[], onOpen: (source: Source) => void): Citations | undefined {
  return useMemo(() => {
    if (sources.length === 0) return undefined;
    const byIndex = new Map(sources.map((source) => [source.index, source]));
    return {
      indices: sourceIndices(sources),
      render: (index: number) => {
        const source = byIndex.get(index);
        return source ? <CitationChip source={source} onOpen={onOpen} /> : `[${index}]`;
      },
    };
  }, [sources, onOpen]);
}

export interface MessageActions {
  onCopy: (message: Message) => void;
  onEdit: (message: Message, content: string) => void;
  onRegenerate: (message: Message) => void;
  onDelete: (message: Message) => void;
  onSwitch: (message: Message, targetId: string) => void;
}

interface Props extends MessageActions {
  message: Message;
  assistantAvatar: string;
  assistantName: string;
  /** A stream is attached to this reply. */
  live: boolean;
  /** Reconnect attempt while the stream is being resumed, else 0. */
  reconnecting: number;
  /** Another reply in the topic is being generated: branch actions wait. */
  busy: boolean;
  highlighted?: boolean;
}

function EditBox({ initial, onCancel, onSubmit }: { initial: string; onCancel: () => void; onSubmit: (text: string) => void }) {
  const t = useT();
  const [text, setText] = useState(initial);
  const hintId = useId();
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>) => {
    if (event.key === 'Escape') {
      // Esc cancels the edit here; it must not also stop a stream.
      event.stopPropagation();
      onCancel();
    } else if (isSendKey(keyPress(event))) {
      // Enter sends and Shift+Enter is a newline, as in the composer.
      event.preventDefault();
      if (text.trim()) onSubmit(text);
    }
  };
  return (
    <div className="edit-box">
      <textarea
        className="edit-box__input"
        value={text}
        autoFocus
        aria-label={t('message.editLabel')}
        aria-describedby={hintId}
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
        rows={Math.min(12, Math.max(2, text.split('\n').length))}
        data-testid="edit-input"
      />
      <div className="edit-box__actions">
        <span id={hintId} className="edit-box__hint">
          {t('message.editHint')}
        </span>
        <button type="button" className="button" onClick={onCancel} data-testid="edit-cancel">
          {t('common.cancel')}
        </button>
        <button
          type="button"
          className="button button--primary"
          disabled={!text.trim()}
          onClick={() => onSubmit(text)}
          data-testid="edit-submit"
        >
          {t('message.saveAndSend')}
        </button>
      </div>
    </div>
  );
}

export const MessageItem = memo(function MessageItem(props: Props) {
  const { message, live, reconnecting, busy, assistantAvatar, assistantName, highlighted } = props;
  const t = useT();
  const language = useLanguage();
  const [editing, setEditing] = useState(false);
  const [openSource, setOpenSource] = useState<Source | null>(null);
  const isUser = message.role === 'user';
  const sources = message.sources ?? NO_SOURCES;
  const citations = useCitations(sources, setOpenSource);
  const streaming = message.status === 'streaming';
  const toolCalls = useMemo(() => (isUser ? [] : normalizeToolCalls(message.tool_calls)), [isUser, message.tool_calls]);
  // A running or waiting call says so on its card; "typing" or a cursor would be wrong then.
  const toolBusy = hasOpenCall(toolCalls);
  const waiting = streaming && !message.content && !message.reasoning && !toolBusy;
  const usage = message.usage;

  return (
    <article
      className={`message message--${message.role}${highlighted ? ' message--highlighted' : ''}`}
      data-testid="message"
      data-role={message.role}
      data-status={message.status}
      data-id={message.id}
      aria-label={isUser ? t('message.fromYou') : t('message.fromAssistant', { name: assistantName })}
    >
      <div className="message__avatar">
        {isUser ? <span className="avatar avatar--user" aria-hidden="true">{t('message.youShort')}</span> : <Avatar value={assistantAvatar} />}
      </div>
      <div className="message__main">
        <div className="message__header">
          <span className="message__author">{isUser ? t('message.you') : assistantName}</span>
          <time className="message__time" dateTime={new Date(message.created_at).toISOString()}>
            {formatTime(message.created_at, language)}
          </time>
        </div>
        {!isUser && message.reasoning ? (
          <details className="reasoning" data-testid="message-reasoning" open={streaming && !message.content}>
            <summary>
              <Icon name="brain" size={14} /> {streaming && !message.content ? t('message.thinking') : t('message.reasoning')}
            </summary>
            <div className="reasoning__text">{message.reasoning}</div>
          </details>
        ) : null}
        {toolCalls.length > 0 ? <ToolCallList calls={toolCalls} messageId={message.id} canDecide={streaming} /> : null}
        {isUser && message.attachments?.length ? <MessageAttachments attachments={message.attachments} /> : null}
        {editing ? (
          <EditBox
            initial={message.content}
            onCancel={() => setEditing(false)}
            onSubmit={(text) => {
              setEditing(false);
              props.onEdit(message, text);
            }}
          />
        ) : (
          <div className={isUser ? 'message__bubble message__bubble--user' : 'message__bubble'} data-testid="message-content">
            {isUser ? <p className="plain-text">{message.content}</p> : <Markdown text={message.content} citations={citations} />}
            {waiting ? (
              <span className="typing" aria-label={t('message.generating')} role="status">
                <span />
                <span />
                <span />
              </span>
            ) : null}
            {streaming && !waiting && (message.content || !toolBusy) ? <span className="cursor" aria-hidden="true" /> : null}
          </div>
        )}
        {!isUser && sources.length > 0 ? <SourcesList sources={sources} onOpen={setOpenSource} /> : null}
        {openSource ? <SourcePanel source={openSource} onClose={() => setOpenSource(null)} /> : null}
        {message.status === 'stopped' ? (
          <div className="message__badge" data-testid="message-stopped">
            {t('message.stopped')}
          </div>
        ) : null}
        {message.status === 'error' ? (
          <div className="message__error" role="alert" data-testid="message-error">
            {message.error?.message || t('message.failed')}
          </div>
        ) : null}
        {streaming && reconnecting > 0 ? (
          <div className="message__badge" role="status">
            {t('message.reconnecting')}
          </div>
        ) : null}
        {!isUser && !streaming && (usage || message.cost) ? (
          <div className="message__meta" data-testid="message-meta">
            {message.model ? <span>{message.model}</span> : null}
            {usage ? (
              <span title={t('message.tokensTitle')} data-testid="message-tokens">
                {t('message.tokens', { input: formatTokens(usage.input_tokens), output: formatTokens(usage.output_tokens) })}
              </span>
            ) : null}
            {message.cost ? (
              <span title={t('message.costTitle')} data-testid="message-cost">
                {formatMoney(message.cost, message.currency)}
              </span>
            ) : null}
          </div>
        ) : null}
        {!editing ? (
          <div className="message__actions">
            <SiblingSwitch message={message} disabled={busy} onSwitch={(target) => props.onSwitch(message, target)} />
            <button
              type="button"
              className="icon-button icon-button--small"
              aria-label={t('message.copy')}
              title={t('message.copy')}
              onClick={() => props.onCopy(message)}
              data-testid="action-copy"
            >
              <Icon name="copy" size={15} />
            </button>
            {isUser ? (
              <button
                type="button"
                className="icon-button icon-button--small"
                aria-label={t('message.edit')}
                title={t('message.edit')}
                disabled={busy}
                onClick={() => setEditing(true)}
                data-testid="action-edit"
              >
                <Icon name="edit" size={15} />
              </button>
            ) : (
              <button
                type="button"
                className="icon-button icon-button--small"
                aria-label={t('message.regenerate')}
                title={t('message.regenerate')}
                disabled={busy || live}
                onClick={() => props.onRegenerate(message)}
                data-testid="action-regenerate"
              >
                <Icon name="refresh" size={15} />
              </button>
            )}
            <button
              type="button"
              className="icon-button icon-button--small"
              aria-label={t('message.delete')}
              title={t('message.delete')}
              disabled={live}
              onClick={() => props.onDelete(message)}
              data-testid="action-delete"
            >
              <Icon name="trash" size={15} />
            </button>
          </div>
        ) : null}
      </div>
    </article>
  );
});

/**
 * The session's opening message and its suggested first questions, shown at the start of an
 * empty topic; not a stored message. A question is sent as the user's message when clicked.
 */
export function OpeningMessage({
  text,
  questions,
  onAsk,
  asking,
  avatar,
  name,
}: {
  text: string | null;
  questions: readonly string[];
  onAsk: (question: string) => void;
  /** A question is being sent: the others wait. */
  asking: boolean;
  avatar: string;
  name: string;
}) {
  const t = useT();
  return (
    <article className="message message--assistant message--opening" data-testid="opening-message">
      <div className="message__avatar">
        <Avatar value={avatar} />
      </div>
      <div className="message__main">
        <div className="message__header">
          <span className="message__author">{name}</span>
        </div>
        {text ? (
          <div className="message__bubble">
            <Markdown text={text} />
          </div>
        ) : null}
        {questions.length > 0 ? (
          <ul className="opening-questions" aria-label={t('chat.suggestedQuestions')} data-testid="opening-questions">
            {questions.map((question, index) => (
              <li key={`${index}:${question}`}>
                <button
                  type="button"
                  className="opening-question"
                  disabled={asking}
                  onClick={() => onAsk(question)}
                  data-testid="opening-question"
                >
                  {question}
                </button>
              </li>
            ))}
          </ul>
        ) : null}
      </div>
    </article>
  );
}
