// One knowledge base: its files (upload by drop or picker, ingestion status followed live,
// retry, remove), its settings, and a retrieval test.

import { useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { knowledgeApi } from '../api/knowledge';
import type { KnowledgeBase, KnowledgeFile } from '../api/types';
import { confirmAction } from '../components/Confirm';
import { Icon } from '../components/Icon';
import { confirmDeleteBase } from '../components/knowledge/confirmDeleteBase';
import { FileDropZone } from '../components/knowledge/FileDropZone';
import { KnowledgeBaseDialog } from '../components/knowledge/KnowledgeBaseDialog';
import { KnowledgeFileList } from '../components/knowledge/KnowledgeFileList';
import { RetrievalTester } from '../components/knowledge/RetrievalTester';
import { useKnowledgeFiles } from '../components/knowledge/useKnowledgeFiles';
import { useKnowledgeUploads } from '../components/knowledge/useKnowledgeUploads';
import { useT } from '../i18n';
import { authStore, isAdmin } from '../state/auth';
import { loadModels } from '../state/chatData';
import { knowledgeStore, rememberKnowledgeBase } from '../state/knowledge';
import { useStore } from '../state/store';
import { toastError } from '../state/toasts';

function BaseFiles({ kb }: { kb: KnowledgeBase }) {
  const t = useT();
  const { files, loaded, error, reload } = useKnowledgeFiles(kb.id);
  const uploads = useKnowledgeUploads(kb.id, () => void reload());

  const retry = async (file: KnowledgeFile) => {
    try {
      await knowledgeApi.retryFile(kb.id, file.file_id);
      await reload();
    } catch (caught) {
      toastError(caught);
    }
  };
  const remove = async (file: KnowledgeFile) => {
    const ok = await confirmAction({
      title: t('knowledge.removeFileTitle'),
      body: t('knowledge.removeFileBody', { name: file.name }),
      confirmLabel: t('knowledge.remove'),
      danger: true,
    });
    if (!ok) return;
    try {
      await knowledgeApi.removeFile(kb.id, file.file_id);
      await reload();
    } catch (caught) {
      toastError(caught);
    }
  };

  return (
    <section className="card kb-section" aria-labelledby="kb-files-title">
      <h2 id="kb-files-title">
        {t('knowledge.files')} {loaded ? <span className="muted">({files.length})</span> : null}
      </h2>
      <FileDropZone onFiles={uploads.add} />
      {error ? (
        <p className="form-error" role="alert">
          {error}
        </p>
      ) : null}
      {loaded ? (
        <KnowledgeFileList files={files} uploads={uploads.items} onRetry={(f) => void retry(f)} onRemove={(f) => void remove(f)} onDismissUpload={uploads.dismiss} />
      ) : (
        <p className="muted" role="status">
          <span className="spinner" aria-hidden="true" /> {t('common.loading')}
        </p>
      )}
    </section>
  );
}

export default function KnowledgeBasePage() {
  // An administrator's base can be published through an Agent resource, which names it by id.
  const admin = useStore(authStore, (st) => isAdmin(st.user));
  const t = useT();
  const navigate = useNavigate();
  const { kbId = '' } = useParams();
  const kb = useStore(knowledgeStore, (s) => s.bases.find((b) => b.id === kbId));
  const [missing, setMissing] = useState(false);
  const [editing, setEditing] = useState(false);

  useEffect(() => {
    setMissing(false);
    knowledgeApi.get(kbId).then(rememberKnowledgeBase, () => setMissing(true));
    loadModels().catch(() => undefined);
  }, [kbId]);

  if (!kb) {
    return (
      <div className="page" data-testid="kb-page">
        {missing ? (
          <>
            <p className="muted">{t('knowledge.notFound')}</p>
            <Link to="/knowledge" className="button">
              <Icon name="arrow-left" /> {t('knowledge.backToList')}
            </Link>
          </>
        ) : (
          <p className="muted" role="status">
            <span className="spinner" aria-hidden="true" /> {t('common.loading')}
          </p>
        )}
      </div>
    );
  }

  return (
    <div className="page" data-testid="kb-page" data-kb-id={kb.id}>
      <header className="page__header">
        <div className="kb-title">
          <Link to="/knowledge" className="icon-button" aria-label={t('knowledge.backToList')} title={t('knowledge.backToList')} data-testid="kb-back">
            <Icon name="arrow-left" />
          </Link>
          <div>
            <h1 data-testid="kb-title">{kb.name}</h1>
            <p className="muted kb-title__meta">
              {kb.description ? `${kb.description} · ` : ''}
              {t('knowledge.summary', { model: kb.embedding_model, tokens: kb.chunk_tokens, k: kb.top_k })}
            </p>
            {admin ? (
              <p className="muted kb-title__meta" data-testid="kb-id">
                {t('knowledge.idForAgents', { id: kb.id })}
              </p>
            ) : null}
          </div>
        </div>
        <div className="kb-title__actions">
          <button type="button" className="button" onClick={() => setEditing(true)} data-testid="kb-settings">
            <Icon name="settings" /> {t('knowledge.settings')}
          </button>
          <button
            type="button"
            className="button button--danger"
            onClick={async () => {
              if (await confirmDeleteBase(kb, t)) navigate('/knowledge', { replace: true });
            }}
            data-testid="kb-delete"
          >
            <Icon name="trash" /> {t('common.delete')}
          </button>
        </div>
      </header>
      <BaseFiles kb={kb} />
      <RetrievalTester kbId={kb.id} defaultTopK={kb.top_k} />
      {editing ? <KnowledgeBaseDialog kb={kb} onClose={() => setEditing(false)} /> : null}
    </div>
  );
}
