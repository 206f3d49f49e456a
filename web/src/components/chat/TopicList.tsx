// The second column: the session's topics (newest first), new topic, rename, delete.

import { useState, type KeyboardEvent } from 'react';
import { useNavigate } from 'react-router-dom';
import type { Session, Topic } from '../../api/types';
import { useLanguage, useT } from '../../i18n';
import { formatRelative } from '../../lib/format';
import { chatDataStore, deleteTopic, loadMoreTopics, renameTopic } from '../../state/chatData';
import { useStore } from '../../state/store';
import { toastError } from '../../state/toasts';
import { confirmAction } from '../Confirm';
import { Icon } from '../Icon';

function TopicItem({ topic, active, onPick }: { topic: Topic; active: boolean; onPick: () => void }) {
  const t = useT();
  const language = useLanguage();
  const navigate = useNavigate();
  const [renaming, setRenaming] = useState(false);
  const [title, setTitle] = useState(topic.title);

  const save = async () => {
    setRenaming(false);
    const next = title.trim();
    if (!next || next === topic.title) return;
    await renameTopic(topic, next).catch(toastError);
  };
  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>) => {
    if (event.key === 'Enter') void save();
    if (event.key === 'Escape') {
      event.stopPropagation();
      setTitle(topic.title);
      setRenaming(false);
    }
  };

  return (
    <li className={active ? 'topic-item topic-item--active' : 'topic-item'} data-testid="topic-item" data-topic-id={topic.id}>
      {renaming ? (
        <input
          className="topic-item__input"
          value={title}
          autoFocus
          aria-label={t('topic.rename')}
          onChange={(e) => setTitle(e.target.value)}
          onBlur={() => void save()}
          onKeyDown={onKeyDown}
          data-testid="topic-rename-input"
        />
      ) : (
        <button
          type="button"
          className="topic-item__link"
          aria-current={active ? 'page' : undefined}
          onClick={() => {
            navigate(`/chat/${topic.session_id}/${topic.id}`);
            onPick();
          }}
          onDoubleClick={() => {
            setTitle(topic.title);
            setRenaming(true);
          }}
        >
          <span className="topic-item__title" data-testid="topic-title">{topic.title || t('topic.untitled')}</span>
          <span className="topic-item__time">{formatRelative(topic.updated_at, language)}</span>
        </button>
      )}
      {!renaming ? (
        <span className="topic-item__actions">
          <button
            type="button"
            className="icon-button icon-button--small"
            aria-label={t('topic.rename')}
            title={t('topic.rename')}
            data-testid="topic-rename"
            onClick={() => {
              setTitle(topic.title);
              setRenaming(true);
            }}
          >
            <Icon name="edit" size={14} />
          </button>
          <button
            type="button"
            className="icon-button icon-button--small"
            aria-label={t('topic.delete')}
            title={t('topic.delete')}
            data-testid="topic-delete"
            onClick={async () => {
              const ok = await confirmAction({
                title: t('topic.deleteTitle'),
                body: t('topic.deleteBody', { title: topic.title || t('topic.untitled') }),
                confirmLabel: t('common.delete'),
                danger: true,
              });
              if (!ok) return;
              try {
                await deleteTopic(topic);
                if (active) navigate(`/chat/${topic.session_id}`, { replace: true });
              } catch (error) {
                toastError(error);
              }
            }}
          >
            <Icon name="trash" size={14} />
          </button>
        </span>
      ) : null}
    </li>
  );
}

export function TopicList({
  session,
  activeTopicId,
  draft,
  onPick,
  onClose,
}: {
  session: Session;
  activeTopicId: string | undefined;
  draft: boolean;
  onPick: () => void;
  onClose?: (() => void) | undefined;
}) {
  const t = useT();
  const navigate = useNavigate();
  const list = useStore(chatDataStore, (s) => s.topics[session.id]);
  return (
    <aside className="topics" aria-label={t('topic.list')} data-testid="topic-list">
      <div className="topics__header">
        {onClose ? (
          <button type="button" className="icon-button" aria-label={t('common.back')} onClick={onClose} data-testid="topics-back">
            <Icon name="arrow-left" />
          </button>
        ) : null}
        <h2>{t('topic.title')}</h2>
        <button
          type="button"
          className="icon-button"
          aria-label={t('topic.new')}
          title={t('topic.new')}
          data-testid="new-topic"
          onClick={() => {
            navigate(`/chat/${session.id}/new`);
            onPick();
          }}
        >
          <Icon name="plus" />
        </button>
      </div>
      <ul className="topics__list">
        {draft ? (
          <li className="topic-item topic-item--active topic-item--draft">
            <span className="topic-item__link">
              <span className="topic-item__title">{t('topic.draft')}</span>
            </span>
          </li>
        ) : null}
        {list?.items.map((topic) => (
          <TopicItem key={topic.id} topic={topic} active={topic.id === activeTopicId} onPick={onPick} />
        ))}
        {list?.loaded && list.items.length === 0 && !draft ? <li className="muted topics__empty">{t('topic.none')}</li> : null}
      </ul>
      {list?.hasMore ? (
        <button type="button" className="button button--ghost topics__more" onClick={() => loadMoreTopics(session.id).catch(toastError)}>
          {t('common.loadMore')}
        </button>
      ) : null}
    </aside>
  );
}
