// The conversation pane: header (knowledge bases, model, settings, export), the virtualized
// message list with older pages loaded on scroll-up, and the composer. Esc stops the reply
// being generated; files dropped anywhere on the conversation are attached to the next message.
// An empty topic starts with the session's opening message and suggested questions, which send
// like the composer does.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useNavigate, useNavigationType, useSearchParams } from 'react-router-dom';
import { chatApi } from '../../api/chat';
import { ApiError } from '../../api/http';
import type { Message, Session } from '../../api/types';
import {
  deleteMessage,
  editAndResend,
  loadOlder,
  openConversation,
  regenerate,
  sendMessage,
  stopStream,
  switchBranch,
} from '../../chat/conversation';
import { conversationStore } from '../../chat/conversationStore';
import { sessionTitle } from '../../chat/sessionTitle';
import { replySignature } from '../../chat/signature';
import { useT } from '../../i18n';
import { copyText } from '../../lib/clipboard';
import { useFileDrop } from '../../lib/useFileDrop';
import { chatDataStore, loadSessions, loadTopics, putTopic, touchSession, updateSession } from '../../state/chatData';
import { loadKnowledgeBases } from '../../state/knowledge';
import { useStore } from '../../state/store';
import { toast, toastError } from '../../state/toasts';
import { VirtualList, type VirtualListHandle } from '../../virtual/VirtualList';
import { Avatar } from '../Avatar';
import { confirmAction } from '../Confirm';
import { Icon } from '../Icon';
import { Composer, type ComposerHandle } from './Composer';
import { KnowledgeIndicator } from './KnowledgeIndicator';
import { MessageItem, OpeningMessage } from './MessageItem';
import { ModelPicker } from './ModelPicker';
import { QuotaRefusal } from './QuotaRefusal';
import { SessionSettingsDialog } from './SessionSettingsDialog';
import { ToolsIndicator } from './ToolsIndicator';

type Item =
  | { kind: 'opening'; key: string; text: string | null; questions: readonly string[] }
  | { kind: 'message'; key: string; message: Message };

const NO_MESSAGES: Message[] = [];
const NO_QUESTIONS: string[] = [];

export interface ChatViewProps {
  session: Session;
  /** undefined: a new topic, created by the first send. */
  topicId: string | undefined;
  /** The topic is not known yet (topics still loading). */
  resolving: boolean;
  onBack?: (() => void) | undefined;
  onShowTopics?: (() => void) | undefined;
}

function download(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function ChatView({ session, topicId, resolving, onBack, onShowTopics }: ChatViewProps) {
  const t = useT();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const models = useStore(chatDataStore, (s) => s.models);
  const conversation = useStore(conversationStore, (s) => (topicId ? s.byTopic[topicId] : undefined));
  const live = useStore(conversationStore, (s) => s.live);
  const reconnecting = useStore(conversationStore, (s) => s.reconnecting);
  const topic = useStore(chatDataStore, (s) => (topicId ? s.topics[session.id]?.items.find((x) => x.id === topicId) : undefined));
  const [following, setFollowing] = useState(true);
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [exportOpen, setExportOpen] = useState(false);
  const [highlight, setHighlight] = useState<string | null>(null);
  const list = useRef<VirtualListHandle>(null);
  const composer = useRef<ComposerHandle>(null);

  const messages = conversation?.messages ?? NO_MESSAGES;
  const streaming = useMemo(() => {
    for (let i = messages.length - 1; i >= 0; i--) {
      const m = messages[i] as Message;
      if (m.role === 'assistant' && m.status === 'streaming') return m;
    }
    return undefined;
  }, [messages]);

  useEffect(() => {
    if (topicId) openConversation(session.id, topicId).catch(toastError);
  }, [session.id, topicId]);

  // Another tab may have changed this chat (its model, its topics) or added to this topic: read
  // them again when the tab becomes visible, so what it shows is what a send will use.
  useEffect(() => {
    const onVisible = () => {
      if (document.visibilityState !== 'visible') return;
      loadSessions().catch(() => undefined);
      loadTopics(session.id).catch(() => undefined);
      if (topicId) openConversation(session.id, topicId).catch(() => undefined);
    };
    document.addEventListener('visibilitychange', onVisible);
    return () => document.removeEventListener('visibilitychange', onVisible);
  }, [session.id, topicId]);

  // Opening a chat or topic (New chat, the chat list, a search result: a PUSH navigation) puts
  // focus in the message box, once it takes input: it is disabled while the chat's topics load,
  // and focusing it then would leave focus on the page body. A page load (POP) or a redirect
  // (REPLACE) leaves focus alone: a screen reader starts at the top, the first Tab reaches the
  // skip link.
  const navigationType = useNavigationType();
  const focusPending = useRef(false);
  useEffect(() => {
    focusPending.current = navigationType === 'PUSH';
  }, [session.id, topicId, navigationType]);
  useEffect(() => {
    if (!focusPending.current || resolving) return;
    focusPending.current = false;
    composer.current?.focus();
  }, [session.id, topicId, resolving]);

  // A search result link (?m=<message id>): scroll to it once it is loaded, then drop the param.
  const target = params.get('m');
  useEffect(() => {
    if (!target || !conversation || conversation.status !== 'ready') return;
    if (list.current?.scrollToKey(target)) {
      setHighlight(target);
      const next = new URLSearchParams(params);
      next.delete('m');
      setParams(next, { replace: true });
      setTimeout(() => setHighlight(null), 2500);
    }
  }, [target, conversation, params, setParams]);

  const stop = useCallback(() => {
    if (streaming) stopStream(streaming.id).catch(toastError);
  }, [streaming]);

  useEffect(() => {
    if (!streaming) return;
    const onKey = (event: KeyboardEvent) => {
      if (event.key === 'Escape' && !event.defaultPrevented) stop();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [streaming, stop]);

  // The indicator names the session's knowledge bases.
  const drawsOnKnowledge = (session.knowledge_base_ids?.length ?? 0) > 0;
  useEffect(() => {
    if (drawsOnKnowledge) loadKnowledgeBases().catch(() => undefined);
  }, [drawsOnKnowledge]);

  const drop = useFileDrop((files) => composer.current?.addFiles(files), !resolving);

  // A send refused for an empty balance: said above the composer (which keeps the draft), with
  // the way to top up and a retry, instead of a toast over the composer.
  const [refusedForQuota, setRefusedForQuota] = useState(false);
  const onSend = useCallback(
    async (text: string, attachments: string[]) => {
      try {
        // What this tab shows is what the reply uses, whatever another tab changed meanwhile.
        const leaf = messages.length ? messages[messages.length - 1] : undefined;
        const view = { model: session.model, parentId: leaf?.id };
        const created = await sendMessage(session.id, topicId, text, attachments, view);
        setRefusedForQuota(false);
        putTopic(created);
        touchSession(session.id);
        list.current?.scrollToBottom();
        if (!topicId) navigate(`/chat/${session.id}/${created.id}`, { replace: true });
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.code === 'insufficient_quota') setRefusedForQuota(true);
        else toastError(error);
        return false;
      }
    },
    [session.id, session.model, topicId, messages, navigate],
  );

  // A suggested question goes the composer's way; refused, it waits in the box for a retry.
  const [asking, setAsking] = useState(false);
  const askQuestion = useCallback(
    async (question: string) => {
      if (asking) return;
      setAsking(true);
      try {
        if (!(await onSend(question, []))) composer.current?.offer(question);
      } finally {
        setAsking(false);
        // The question's button goes with the opening once the topic has messages.
        composer.current?.focus();
      }
    },
    [asking, onSend],
  );

  const actions = useMemo(
    () => ({
      onCopy: async (message: Message) => {
        if (await copyText(message.content)) toast(t('common.copied'), 'success', 1500);
      },
      onEdit: (message: Message, content: string) => {
        if (topicId) editAndResend(session.id, topicId, message, content).catch(toastError);
      },
      onRegenerate: (message: Message) => {
        if (topicId) regenerate(session.id, topicId, message).catch(toastError);
      },
      onDelete: async (message: Message) => {
        if (!topicId) return;
        const ok = await confirmAction({
          title: t('message.deleteTitle'),
          body: t('message.deleteBody'),
          confirmLabel: t('common.delete'),
          danger: true,
        });
        if (!ok) return;
        try {
          await deleteMessage(session.id, topicId, message);
          // Sibling counts of the neighbours changed: list the branch again.
          await openConversation(session.id, topicId);
        } catch (error) {
          toastError(error);
        }
      },
      onSwitch: (_message: Message, targetId: string) => {
        if (topicId) switchBranch(session.id, topicId, targetId).catch(toastError);
      },
    }),
    [session.id, topicId, t],
  );

  const questions = session.opening_questions ?? NO_QUESTIONS;
  const items: Item[] = useMemo(() => {
    const result: Item[] = [];
    const empty = messages.length === 0 && !conversation?.hasMore;
    const opening = session.opening_message || null;
    if (empty && (opening || questions.length > 0) && (!topicId || conversation?.status === 'ready')) {
      result.push({ kind: 'opening', key: `opening:${session.id}`, text: opening, questions });
    }
    for (const message of messages) result.push({ kind: 'message', key: message.id, message });
    return result;
  }, [messages, conversation?.hasMore, conversation?.status, session.opening_message, questions, session.id, topicId]);

  const onNearTop = useCallback(() => {
    if (topicId && conversation?.hasMore && !conversation.loadingOlder) loadOlder(session.id, topicId).catch(toastError);
  }, [session.id, topicId, conversation?.hasMore, conversation?.loadingOlder]);

  const renderItem = useCallback(
    (item: Item) =>
      item.kind === 'opening' ? (
        <OpeningMessage
          text={item.text}
          questions={item.questions}
          onAsk={(question) => void askQuestion(question)}
          asking={asking || resolving}
          avatar={session.avatar}
          name={sessionTitle(session, t)}
        />
      ) : (
        <MessageItem
          message={item.message}
          assistantAvatar={session.avatar}
          assistantName={replySignature(session, item.message)}
          live={Boolean(live[item.message.id])}
          reconnecting={reconnecting[item.message.id] ?? 0}
          busy={Boolean(streaming)}
          highlighted={highlight === item.message.id}
          {...actions}
        />
      ),
    [session, live, reconnecting, streaming, highlight, actions, askQuestion, asking, resolving],
  );

  const exportAs = async (format: 'markdown' | 'json') => {
    setExportOpen(false);
    if (!topicId) return;
    try {
      const response = await chatApi.exportTopic(topicId, format);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const name = (topic?.title || 'conversation').replace(/[\\/:*?"<>|]+/g, '_');
      download(await response.blob(), `${name}.${format === 'markdown' ? 'md' : 'json'}`);
    } catch (error) {
      toastError(error);
    }
  };

  const loading = resolving || (topicId !== undefined && (!conversation || (conversation.status === 'loading' && messages.length === 0)));

  return (
    <section className="chat" aria-label={sessionTitle(session, t)} data-testid="chat-view">
      <header className="chat__header">
        {onBack ? (
          <button type="button" className="icon-button" aria-label={t('common.back')} onClick={onBack} data-testid="chat-back">
            <Icon name="arrow-left" />
          </button>
        ) : null}
        <Avatar value={session.avatar} size={32} />
        <div className="chat__title">
          <h1 data-testid="chat-title">{sessionTitle(session, t)}</h1>
          <span className="chat__subtitle" data-testid="topic-current">{topic?.title || (topicId ? t('topic.untitled') : t('topic.draft'))}</span>
        </div>
        <div className="chat__tools">
          <KnowledgeIndicator session={session} onOpen={() => setSettingsOpen(true)} />
          <ToolsIndicator session={session} onOpen={() => setSettingsOpen(true)} />
          <ModelPicker
            models={models}
            value={session.model}
            onChange={(model) => updateSession(session.id, { model }).catch(toastError)}
          />
          {onShowTopics ? (
            <button type="button" className="icon-button" aria-label={t('topic.show')} title={t('topic.show')} onClick={onShowTopics} data-testid="show-topics">
              <Icon name="list" />
            </button>
          ) : null}
          <div className="menu">
            <button
              type="button"
              className="icon-button"
              aria-label={t('chat.export')}
              title={t('chat.export')}
              aria-haspopup="menu"
              aria-expanded={exportOpen}
              disabled={!topicId}
              onClick={() => setExportOpen((v) => !v)}
              data-testid="export-open"
            >
              <Icon name="download" />
            </button>
            {exportOpen ? (
              <div className="popover popover--menu" role="menu">
                <button type="button" role="menuitem" className="popover__item" onClick={() => void exportAs('markdown')}>
                  {t('chat.exportMarkdown')}
                </button>
                <button type="button" role="menuitem" className="popover__item" onClick={() => void exportAs('json')}>
                  {t('chat.exportJson')}
                </button>
              </div>
            ) : null}
          </div>
          <button
            type="button"
            className="icon-button"
            aria-label={t('session.settings')}
            title={t('session.settings')}
            onClick={() => setSettingsOpen(true)}
            data-testid="session-settings-open"
          >
            <Icon name="settings" />
          </button>
        </div>
      </header>
      <div className={drop.dragging ? 'chat__body chat__body--dropping' : 'chat__body'} {...drop.handlers}>
        {drop.dragging ? (
          <div className="chat__drop" aria-hidden="true">
            <Icon name="upload" size={28} />
            <span>{t('upload.dropHere')}</span>
          </div>
        ) : null}
        {loading ? (
          <div className="chat__loading" role="status">
            <span className="spinner" aria-hidden="true" /> {t('common.loading')}
          </div>
        ) : items.length === 0 ? (
          <div className="chat__empty" data-testid="chat-empty">
            <Avatar value={session.avatar} size={56} />
            <h2>{sessionTitle(session, t)}</h2>
            <p className="muted">{session.description || t('chat.emptyHint')}</p>
          </div>
        ) : (
          <VirtualList
            key={topicId ?? 'draft'}
            ref={list}
            items={items}
            itemKey={(item) => item.key}
            renderItem={renderItem}
            estimateHeight={140}
            onNearTop={onNearTop}
            onFollowChange={setFollowing}
            className="chat__list"
            ariaLabel={t('chat.messages')}
            testId="message-list"
            paddingBottom={16}
          />
        )}
        {conversation?.loadingOlder ? (
          <div className="chat__older" role="status" data-testid="loading-older">
            <span className="spinner" aria-hidden="true" /> {t('chat.loadingOlder')}
          </div>
        ) : null}
        {!following && items.length > 0 ? (
          <button
            type="button"
            className="chat__to-bottom icon-button"
            aria-label={t('chat.toBottom')}
            onClick={() => list.current?.scrollToBottom()}
            data-testid="scroll-bottom"
          >
            <Icon name="arrow-down" />
          </button>
        ) : null}
      </div>
      <footer className="chat__footer">
        {refusedForQuota ? (
          <QuotaRefusal onRetry={() => composer.current?.send()} onDismiss={() => setRefusedForQuota(false)} />
        ) : null}
        <Composer ref={composer} onSend={onSend} onStop={stop} streaming={Boolean(streaming)} disabled={resolving} />
      </footer>
      {settingsOpen ? <SessionSettingsDialog session={session} onClose={() => setSettingsOpen(false)} /> : null}
    </section>
  );
}
