// The three-pane chat screen: sessions | topics | conversation. Under 900px the topic column is
// a drawer; at phone width (≤480px) one pane shows at a time with a back button.

import { useEffect, useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { ChatView } from '../components/chat/ChatView';
import { NewSessionDialog } from '../components/chat/NewSessionDialog';
import { SearchDialog } from '../components/chat/SearchDialog';
import { SessionRail } from '../components/chat/SessionRail';
import { TopicList } from '../components/chat/TopicList';
import { Icon } from '../components/Icon';
import { getConversation } from '../chat/conversationStore';
import { onReplySettled } from '../chat/streamAttach';
import { useT } from '../i18n';
import { NARROW_QUERY, PHONE_QUERY, useMediaQuery } from '../lib/useMediaQuery';
import { chatDataStore, loadModels, loadSessions, loadTopics } from '../state/chatData';
import { useStore } from '../state/store';
import { toastError } from '../state/toasts';

export function ChatPage() {
  const t = useT();
  const navigate = useNavigate();
  const { sessionId, topicId: topicParam } = useParams();
  const phone = useMediaQuery(PHONE_QUERY);
  const narrow = useMediaQuery(NARROW_QUERY);
  const sessions = useStore(chatDataStore, (s) => s.sessions);
  const sessionsLoaded = useStore(chatDataStore, (s) => s.sessionsLoaded);
  const topics = useStore(chatDataStore, (s) => (sessionId ? s.topics[sessionId] : undefined));
  const [topicsOpen, setTopicsOpen] = useState(false);
  const [searchOpen, setSearchOpen] = useState(false);
  const [newOpen, setNewOpen] = useState(false);

  useEffect(() => {
    loadSessions().catch(toastError);
    loadModels().catch(() => undefined);
  }, []);

  useEffect(() => {
    if (sessionId) loadTopics(sessionId).catch(toastError);
    setTopicsOpen(false);
  }, [sessionId]);

  // A finished reply may have titled its topic: list the topics again (the title can be
  // written just after `done`, so once more a moment later).
  useEffect(
    () =>
      onReplySettled((_message, topicId) => {
        const conversation = getConversation(topicId);
        if (!conversation) return;
        const again = () => loadTopics(conversation.sessionId).catch(() => undefined);
        void again();
        setTimeout(again, 2500);
      }),
    [],
  );

  // Ctrl/Cmd+K opens search anywhere on the chat screen.
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === 'k') {
        event.preventDefault();
        setSearchOpen(true);
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);

  // On a wide screen, /chat opens the most recent session.
  useEffect(() => {
    if (!sessionId && !phone && sessionsLoaded && sessions[0]) navigate(`/chat/${sessions[0].id}`, { replace: true });
  }, [sessionId, phone, sessionsLoaded, sessions, navigate]);

  const session = sessionId ? sessions.find((s) => s.id === sessionId) : undefined;
  const draft = topicParam === 'new' || (topicParam === undefined && topics?.loaded === true && topics.items.length === 0);
  const topicId = topicParam === 'new' ? undefined : (topicParam ?? (topics?.loaded ? topics.items[0]?.id : undefined));
  const resolving = topicParam === undefined && !topics?.loaded;

  const showRail = !phone || !sessionId;
  const showTopics = Boolean(session) && (narrow ? topicsOpen : true);
  const showChat = Boolean(sessionId) && !(phone && topicsOpen);

  return (
    <div
      className="chat-layout"
      data-phone={phone || undefined}
      data-narrow={narrow || undefined}
      data-topics-open={topicsOpen || undefined}
      data-testid="chat-page"
    >
      {showRail ? <SessionRail activeId={sessionId} onNew={() => setNewOpen(true)} onSearch={() => setSearchOpen(true)} /> : null}
      {showTopics && session ? (
        <>
          {narrow && !phone ? <div className="drawer-backdrop" onClick={() => setTopicsOpen(false)} aria-hidden="true" /> : null}
          <TopicList
            session={session}
            activeTopicId={topicId}
            draft={draft}
            onPick={() => setTopicsOpen(false)}
            onClose={narrow ? () => setTopicsOpen(false) : undefined}
          />
        </>
      ) : null}
      {showChat ? (
        session ? (
          <ChatView
            key={session.id}
            session={session}
            topicId={topicId}
            resolving={resolving}
            onBack={phone ? () => navigate('/chat') : undefined}
            onShowTopics={narrow ? () => setTopicsOpen(true) : undefined}
          />
        ) : (
          <section className="chat chat--placeholder">
            {sessionsLoaded ? (
              <div className="chat__empty">
                <p className="muted">{t('session.notFound')}</p>
                <button type="button" className="button" onClick={() => navigate('/chat')}>
                  <Icon name="arrow-left" /> {t('common.back')}
                </button>
              </div>
            ) : (
              <div className="chat__loading" role="status">
                <span className="spinner" aria-hidden="true" /> {t('common.loading')}
              </div>
            )}
          </section>
        )
      ) : !phone ? (
        <section className="chat chat--placeholder">
          <div className="chat__empty" data-testid="chat-welcome">
            <span className="brand-mark brand-mark--big" aria-hidden="true">◐</span>
            <h2>{t('chat.welcome')}</h2>
            <p className="muted">{t('chat.welcomeHint')}</p>
            <button type="button" className="button button--primary" onClick={() => setNewOpen(true)} data-testid="new-session-welcome">
              <Icon name="plus" /> {t('session.new')}
            </button>
          </div>
        </section>
      ) : null}
      {newOpen ? <NewSessionDialog onClose={() => setNewOpen(false)} /> : null}
      {searchOpen ? <SearchDialog onClose={() => setSearchOpen(false)} /> : null}
    </div>
  );
}
