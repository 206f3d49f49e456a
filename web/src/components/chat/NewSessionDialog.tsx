// "New chat": pick an agent (published catalog or the user's own) or start blank.

import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import type { Agent } from '../../api/types';
import { useT } from '../../i18n';
import { chatDataStore, createSession, loadAgents, openAgentChat } from '../../state/chatData';
import { useStore } from '../../state/store';
import { toastError } from '../../state/toasts';
import { Avatar } from '../Avatar';
import { Icon } from '../Icon';
import { Modal } from '../Modal';

export function NewSessionDialog({ onClose }: { onClose: () => void }) {
  const t = useT();
  const navigate = useNavigate();
  const agents = useStore(chatDataStore, (s) => s.agents);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    loadAgents().catch(toastError);
  }, []);

  // An agent opens the user's existing chat with it unless `fresh` (its "new chat" button).
  const start = async (agent: Agent | null, fresh = false) => {
    setBusy(true);
    try {
      const session = agent
        ? await openAgentChat(agent.id, fresh)
        : // No title: the server names a blank chat after its first topic.
          await createSession({});
      onClose();
      navigate(`/chat/${session.id}`);
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };

  const catalog = agents.filter((a) => a.source === 'catalog');
  const mine = agents.filter((a) => a.source === 'user');
  const card = (agent: Agent) => (
    <li key={agent.id}>
      <button
        type="button"
        className="agent-option"
        disabled={busy}
        onClick={() => void start(agent)}
        data-testid="agent-option"
        data-agent-name={agent.name}
      >
        <Avatar value={agent.avatar} size={36} />
        <span className="agent-option__text">
          <span className="agent-option__name">{agent.name}</span>
          <span className="agent-option__desc">{agent.description || agent.model}</span>
        </span>
      </button>
      <button
        type="button"
        className="icon-button agent-option__fresh"
        disabled={busy}
        onClick={() => void start(agent, true)}
        aria-label={t('session.newWithAgent', { name: agent.name })}
        title={t('session.newWithAgent', { name: agent.name })}
        data-testid="agent-option-fresh"
      >
        <Icon name="plus" />
      </button>
    </li>
  );

  return (
    <Modal title={t('session.newTitle')} onClose={onClose} wide testId="new-session-dialog">
      <ul className="agent-options">
        <li>
          <button type="button" className="agent-option" disabled={busy} onClick={() => void start(null)} data-testid="agent-option-blank" data-autofocus>
            <Avatar value="💬" size={36} />
            <span className="agent-option__text">
              <span className="agent-option__name">{t('session.blank')}</span>
              <span className="agent-option__desc">{t('session.blankDescription')}</span>
            </span>
          </button>
        </li>
      </ul>
      {mine.length ? (
        <>
          <h3 className="section-title">{t('agents.mine')}</h3>
          <ul className="agent-options">{mine.map(card)}</ul>
        </>
      ) : null}
      {catalog.length ? (
        <>
          <h3 className="section-title">{t('agents.catalog')}</h3>
          <ul className="agent-options">{catalog.map(card)}</ul>
        </>
      ) : null}
    </Modal>
  );
}
