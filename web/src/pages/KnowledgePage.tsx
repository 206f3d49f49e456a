// Knowledge bases: the user's bases as cards (open, change settings, delete), and a new one.
// A base's files and retrieval test are on its own page (KnowledgeBasePage).

import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import type { KnowledgeBase } from '../api/types';
import { Icon } from '../components/Icon';
import { confirmDeleteBase } from '../components/knowledge/confirmDeleteBase';
import { KnowledgeBaseDialog } from '../components/knowledge/KnowledgeBaseDialog';
import { useLanguage, useT } from '../i18n';
import { formatDate } from '../lib/format';
import { loadModels } from '../state/chatData';
import { knowledgeStore, loadKnowledgeBases } from '../state/knowledge';
import { useStore } from '../state/store';
import { toastError } from '../state/toasts';

export default function KnowledgePage() {
  const t = useT();
  const language = useLanguage();
  const navigate = useNavigate();
  const bases = useStore(knowledgeStore, (s) => s.bases);
  const loaded = useStore(knowledgeStore, (s) => s.loaded);
  const [editing, setEditing] = useState<KnowledgeBase | 'new' | null>(null);

  useEffect(() => {
    loadKnowledgeBases(true).catch(toastError);
    loadModels().catch(() => undefined);
  }, []);

  return (
    <div className="page" data-testid="knowledge-page">
      <header className="page__header">
        <h1>{t('knowledge.title')}</h1>
        <button type="button" className="button button--primary" onClick={() => setEditing('new')} data-testid="kb-create">
          <Icon name="plus" /> {t('knowledge.create')}
        </button>
      </header>
      <p className="muted">{t('knowledge.intro')}</p>
      {!loaded ? (
        <p className="muted" role="status">
          <span className="spinner" aria-hidden="true" /> {t('common.loading')}
        </p>
      ) : bases.length === 0 ? (
        <p className="muted" data-testid="kb-none">
          {t('knowledge.none')}
        </p>
      ) : null}
      <ul className="card-grid card-grid--wide">
        {bases.map((kb) => (
          <li key={kb.id} className="card kb-card" data-testid="kb-card" data-kb-name={kb.name}>
            <div className="kb-card__head">
              <span className="kb-card__icon" aria-hidden="true">
                <Icon name="book" size={20} />
              </span>
              <h2 className="kb-card__name">
                <Link to={`/knowledge/${kb.id}`} data-testid="kb-open">
                  {kb.name}
                </Link>
              </h2>
            </div>
            {kb.description ? <p className="kb-card__desc">{kb.description}</p> : null}
            <p className="kb-card__meta muted">
              {kb.embedding_model} · {t('knowledge.created', { date: formatDate(kb.created_at, language) })}
            </p>
            <div className="kb-card__actions">
              <button type="button" className="icon-button" aria-label={t('knowledge.settingsOf', { name: kb.name })} title={t('knowledge.settings')} onClick={() => setEditing(kb)} data-testid="kb-edit">
                <Icon name="settings" />
              </button>
              <button
                type="button"
                className="icon-button"
                aria-label={t('knowledge.deleteOf', { name: kb.name })}
                title={t('common.delete')}
                onClick={() => void confirmDeleteBase(kb, t)}
                data-testid="kb-delete"
              >
                <Icon name="trash" />
              </button>
            </div>
          </li>
        ))}
      </ul>
      {editing ? (
        <KnowledgeBaseDialog
          kb={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onCreated={(kb) => navigate(`/knowledge/${kb.id}`)}
        />
      ) : null}
    </div>
  );
}
