// The left rail: sessions grouped into pinned, folders and the rest; filter, new chat, search.

import { useMemo, useState } from 'react';
import { NavLink, useNavigate } from 'react-router-dom';
import type { Session } from '../../api/types';
import { groupSessions } from '../../chat/sessionGroups';
import { useT } from '../../i18n';
import { sessionTitle } from '../../chat/sessionTitle';
import { chatDataStore, deleteSession, updateSession } from '../../state/chatData';
import { useStore } from '../../state/store';
import { toastError } from '../../state/toasts';
import { Avatar } from '../Avatar';
import { confirmAction } from '../Confirm';
import { Icon } from '../Icon';

function SessionItem({ session, active }: { session: Session; active: boolean }) {
  const t = useT();
  const navigate = useNavigate();
  return (
    <li className={active ? 'rail-item rail-item--active' : 'rail-item'} data-testid="session-item" data-session-id={session.id}>
      <NavLink to={`/chat/${session.id}`} className="rail-item__link" aria-current={active ? 'page' : undefined}>
        <Avatar value={session.avatar} size={36} />
        <span className="rail-item__text">
          <span className="rail-item__title" data-testid="session-title">{sessionTitle(session, t)}</span>
          <span className="rail-item__sub">{session.description || session.model}</span>
        </span>
      </NavLink>
      <span className="rail-item__actions">
        <button
          type="button"
          className={session.pinned ? 'icon-button icon-button--small icon-button--on' : 'icon-button icon-button--small'}
          aria-label={session.pinned ? t('session.unpin') : t('session.pin')}
          aria-pressed={session.pinned}
          title={session.pinned ? t('session.unpin') : t('session.pin')}
          data-testid="session-pin"
          onClick={() => updateSession(session.id, { pinned: !session.pinned }).catch(toastError)}
        >
          <Icon name="pin" size={14} />
        </button>
        <button
          type="button"
          className="icon-button icon-button--small"
          aria-label={t('session.delete')}
          title={t('session.delete')}
          data-testid="session-delete"
          onClick={async () => {
            const ok = await confirmAction({
              title: t('session.deleteTitle'),
              body: t('session.deleteBody', { title: session.title }),
              confirmLabel: t('common.delete'),
              danger: true,
            });
            if (!ok) return;
            try {
              await deleteSession(session.id);
              if (active) navigate('/chat', { replace: true });
            } catch (error) {
              toastError(error);
            }
          }}
        >
          <Icon name="trash" size={14} />
        </button>
      </span>
    </li>
  );
}

export function SessionRail({ activeId, onNew, onSearch }: { activeId: string | undefined; onNew: () => void; onSearch: () => void }) {
  const t = useT();
  const sessions = useStore(chatDataStore, (s) => s.sessions);
  const loaded = useStore(chatDataStore, (s) => s.sessionsLoaded);
  const [filter, setFilter] = useState('');
  const groups = useMemo(() => groupSessions(sessions, filter), [sessions, filter]);

  return (
    <aside className="rail" aria-label={t('session.list')} data-testid="session-rail">
      <div className="rail__header">
        <h2>{t('session.title')}</h2>
        <div className="rail__tools">
          <button type="button" className="icon-button" aria-label={t('search.open')} title={t('search.open') + ' (Ctrl+K)'} onClick={onSearch} data-testid="search-open">
            <Icon name="search" />
          </button>
          <button type="button" className="icon-button" aria-label={t('session.new')} title={t('session.new')} onClick={onNew} data-testid="new-session">
            <Icon name="plus" />
          </button>
        </div>
      </div>
      <div className="rail__filter">
        <input
          type="search"
          placeholder={t('session.filter')}
          aria-label={t('session.filter')}
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      </div>
      <div className="rail__scroll">
        {!loaded ? <p className="muted rail__empty">{t('common.loading')}</p> : null}
        {loaded && sessions.length === 0 ? (
          <div className="rail__empty">
            <p className="muted">{t('session.none')}</p>
            <button type="button" className="button button--primary" onClick={onNew} data-testid="new-session-empty">
              {t('session.new')}
            </button>
          </div>
        ) : null}
        {groups.map((group) => (
          <section key={group.kind + group.key} className="rail-group" aria-label={group.kind === 'pinned' ? t('session.pinned') : group.kind === 'default' ? t('session.defaultGroup') : group.key}>
            <h3 className="rail-group__title">
              {group.kind === 'pinned' ? <Icon name="pin" size={12} /> : group.kind === 'folder' ? <Icon name="folder" size={12} /> : null}
              {group.kind === 'pinned' ? t('session.pinned') : group.kind === 'default' ? t('session.defaultGroup') : group.key}
            </h3>
            <ul className="rail-group__list">
              {group.sessions.map((session) => (
                <SessionItem key={session.id} session={session} active={session.id === activeId} />
              ))}
            </ul>
          </section>
        ))}
      </div>
    </aside>
  );
}
