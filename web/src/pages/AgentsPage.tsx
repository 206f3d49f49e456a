// Agents: browse the published catalog (the operator's Agent resources, read-only) and manage
// your own; start a chat with any of them.

import { useEffect, useState } from 'react';
import { useNavigate } from 'react-router-dom';
import type { Agent } from '../api/types';
import { AgentForm, EMPTY_AGENT, type AgentFields } from '../components/AgentForm';
import { Avatar } from '../components/Avatar';
import { confirmAction } from '../components/Confirm';
import { Icon } from '../components/Icon';
import { Modal } from '../components/Modal';
import { KnowledgeBasePicker } from '../components/chat/KnowledgeBasePicker';
import { useT } from '../i18n';
import { chatDataStore, loadAgents, loadModels, openAgentChat, removeAgent, saveAgent } from '../state/chatData';
import { useStore } from '../state/store';
import { toast, toastError } from '../state/toasts';

function toFields(agent: Agent): AgentFields {
  return {
    name: agent.name,
    avatar: agent.avatar,
    description: agent.description,
    system_prompt: agent.system_prompt,
    model: agent.model ?? '',
    temperature: agent.temperature,
    opening_message: agent.opening_message ?? '',
  };
}

function AgentEditor({ agent, onClose }: { agent: Agent | null; onClose: () => void }) {
  const t = useT();
  const models = useStore(chatDataStore, (s) => s.models);
  const [fields, setFields] = useState<AgentFields>(agent ? toFields(agent) : { ...EMPTY_AGENT, model: models[0]?.id ?? '' });
  const [bases, setBases] = useState<string[]>(agent?.knowledge_base_ids ?? []);
  const [busy, setBusy] = useState(false);
  const basesChanged = bases.length !== (agent?.knowledge_base_ids ?? []).length || bases.some((id) => !agent?.knowledge_base_ids?.includes(id));
  const save = async () => {
    if (!fields.name.trim()) return;
    setBusy(true);
    try {
      await saveAgent(agent?.id ?? null, {
        name: fields.name.trim(),
        avatar: fields.avatar,
        description: fields.description,
        system_prompt: fields.system_prompt,
        ...(fields.model ? { model: fields.model } : {}),
        temperature: fields.temperature,
        opening_message: fields.opening_message.trim() ? fields.opening_message : null,
        // Only when changed: a server without knowledge bases refuses the unknown field.
        ...(basesChanged ? { knowledge_base_ids: bases } : {}),
      });
      toast(t('common.saved'), 'success', 1500);
      onClose();
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title={agent ? t('agents.edit') : t('agents.create')}
      onClose={onClose}
      wide
      testId="agent-editor"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="button" className="button button--primary" disabled={busy || !fields.name.trim()} onClick={() => void save()} data-testid="agent-save">
            {t('common.save')}
          </button>
        </>
      }
    >
      <AgentForm value={fields} onChange={setFields} models={models} />
      <KnowledgeBasePicker value={bases} onChange={setBases} hint="knowledge.agentHint" />
    </Modal>
  );
}

export default function AgentsPage() {
  const t = useT();
  const navigate = useNavigate();
  const agents = useStore(chatDataStore, (s) => s.agents);
  const loaded = useStore(chatDataStore, (s) => s.agentsLoaded);
  const [tab, setTab] = useState<'catalog' | 'user'>('catalog');
  const [editing, setEditing] = useState<Agent | null | 'new'>(null);
  const [filter, setFilter] = useState('');

  useEffect(() => {
    loadAgents(true).catch(toastError);
    loadModels().catch(() => undefined);
  }, []);

  const start = async (agent: Agent) => {
    try {
      const session = await openAgentChat(agent.id);
      navigate(`/chat/${session.id}`);
    } catch (error) {
      toastError(error);
    }
  };

  const needle = filter.trim().toLowerCase();
  const shown = agents.filter(
    (a) =>
      a.source === tab &&
      (!needle || a.name.toLowerCase().includes(needle) || a.description.toLowerCase().includes(needle) || a.tags.some((tag) => tag.toLowerCase().includes(needle))),
  );

  return (
    <div className="page" data-testid="agents-page">
      <header className="page__header">
        <h1>{t('agents.title')}</h1>
        <button type="button" className="button button--primary" onClick={() => setEditing('new')} data-testid="create-agent">
          <Icon name="plus" /> {t('agents.create')}
        </button>
      </header>
      <div className="toolbar">
        <div className="tabs" role="tablist" aria-label={t('agents.title')}>
          <button type="button" role="tab" aria-selected={tab === 'catalog'} className={tab === 'catalog' ? 'tab tab--active' : 'tab'} onClick={() => setTab('catalog')} data-testid="tab-catalog">
            {t('agents.catalog')}
          </button>
          <button type="button" role="tab" aria-selected={tab === 'user'} className={tab === 'user' ? 'tab tab--active' : 'tab'} onClick={() => setTab('user')} data-testid="tab-mine">
            {t('agents.mine')}
          </button>
        </div>
        <input type="search" className="toolbar__search" placeholder={t('agents.filter')} aria-label={t('agents.filter')} value={filter} onChange={(e) => setFilter(e.target.value)} />
      </div>
      {loaded && shown.length === 0 ? <p className="muted">{tab === 'catalog' ? t('agents.noneCatalog') : t('agents.noneMine')}</p> : null}
      <ul className="card-grid">
        {shown.map((agent) => (
          <li key={agent.id} className="card agent-card" data-testid="agent-card" data-agent-name={agent.name}>
            <div className="agent-card__head">
              <Avatar value={agent.avatar} size={44} />
              <div>
                <h2 className="agent-card__name">{agent.name}</h2>
                <span className="muted agent-card__model">
                  {agent.model}
                  {agent.knowledge_base_ids?.length ? ` · 📚 ${t('knowledge.agentBases', { count: agent.knowledge_base_ids.length })}` : ''}
                </span>
              </div>
            </div>
            <p className="agent-card__desc">{agent.description || agent.system_prompt.slice(0, 140)}</p>
            {agent.tags.length ? (
              <ul className="tags">
                {agent.tags.map((tag) => (
                  <li key={tag} className="tag">
                    {tag}
                  </li>
                ))}
              </ul>
            ) : null}
            <div className="agent-card__actions">
              <button type="button" className="button button--primary" onClick={() => void start(agent)} data-testid="agent-start">
                <Icon name="chat" /> {t('agents.start')}
              </button>
              {agent.source === 'user' ? (
                <>
                  <button type="button" className="icon-button" aria-label={t('agents.edit')} title={t('agents.edit')} onClick={() => setEditing(agent)} data-testid="agent-edit">
                    <Icon name="edit" />
                  </button>
                  <button
                    type="button"
                    className="icon-button"
                    aria-label={t('agents.delete')}
                    title={t('agents.delete')}
                    data-testid="agent-delete"
                    onClick={async () => {
                      const ok = await confirmAction({ title: t('agents.deleteTitle'), body: agent.name, confirmLabel: t('common.delete'), danger: true });
                      if (ok) removeAgent(agent.id).catch(toastError);
                    }}
                  >
                    <Icon name="trash" />
                  </button>
                </>
              ) : null}
            </div>
          </li>
        ))}
      </ul>
      {editing ? (
        <AgentEditor
          agent={editing === 'new' ? null : editing}
          onClose={() => {
            if (editing === 'new') setTab('user');
            setEditing(null);
          }}
        />
      ) : null}
    </div>
  );
}
