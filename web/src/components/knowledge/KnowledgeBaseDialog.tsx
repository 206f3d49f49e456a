// Create a knowledge base (name, description, embedding model, settings) or change one (all
// but the embedding model). Fields are checked against the server's limits as you type.

import { useEffect, useMemo, useState } from 'react';
import type { KnowledgeBase, KnowledgeBaseChange, KnowledgeBaseSettings } from '../../api/types';
import { useT } from '../../i18n';
import { DEFAULT_SETTINGS, changedSettings, defaultEmbeddingModel, embeddingChoices, validateSettings } from '../../knowledge/settings';
import { createKnowledgeBase, knowledgeStore, loadEmbeddingModels, updateKnowledgeBase } from '../../state/knowledge';
import { useStore } from '../../state/store';
import { toast, toastError } from '../../state/toasts';
import { Modal } from '../Modal';
import { EmbeddingModelField } from './EmbeddingModelField';
import { SettingsFields } from './SettingsFields';

function settingsOf(kb: KnowledgeBase): KnowledgeBaseSettings {
  const { name, description, chunk_tokens, chunk_overlap, top_k, score_threshold, vector_weight } = kb;
  return { name, description, chunk_tokens, chunk_overlap, top_k, score_threshold, vector_weight };
}

export function KnowledgeBaseDialog({ kb, onClose, onCreated }: { kb: KnowledgeBase | null; onClose: () => void; onCreated?: (kb: KnowledgeBase) => void }) {
  const t = useT();
  const offered = useStore(knowledgeStore, (s) => s.embeddingModels);
  const bases = useStore(knowledgeStore, (s) => s.bases);
  useEffect(() => {
    loadEmbeddingModels().catch(() => undefined);
  }, []);
  const choices = useMemo(() => embeddingChoices(bases.map((b) => b.embedding_model), offered ?? []), [bases, offered]);
  const [fields, setFields] = useState<KnowledgeBaseSettings>(kb ? settingsOf(kb) : { name: '', description: '', ...DEFAULT_SETTINGS });
  const [model, setModel] = useState(() => kb?.embedding_model ?? defaultEmbeddingModel(choices));
  // The server's list may arrive after the dialog opened: an untouched field takes its first.
  const [modelTouched, setModelTouched] = useState(false);
  useEffect(() => {
    if (!kb && !modelTouched && offered) setModel(defaultEmbeddingModel(choices));
  }, [kb, modelTouched, offered, choices]);
  const [rerank, setRerank] = useState(kb?.rerank_model ?? '');
  const [busy, setBusy] = useState(false);
  const errors = validateSettings(fields);
  const valid = Object.keys(errors).length === 0 && (kb !== null || model.trim() !== '');

  const save = async () => {
    if (!valid) return;
    setBusy(true);
    try {
      if (kb) {
        const change: KnowledgeBaseChange = changedSettings(settingsOf(kb), fields);
        if (rerank.trim() !== (kb.rerank_model ?? '')) change.rerank_model = rerank.trim();
        if (Object.keys(change).length) await updateKnowledgeBase(kb.id, change);
        toast(t('common.saved'), 'success', 1500);
        onClose();
      } else {
        const created = await createKnowledgeBase({
          ...fields,
          name: fields.name.trim(),
          embedding_model: model.trim(),
          ...(rerank.trim() ? { rerank_model: rerank.trim() } : {}),
        });
        onClose();
        onCreated?.(created);
      }
    } catch (error) {
      toastError(error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={kb ? t('knowledge.editTitle') : t('knowledge.createTitle')}
      onClose={onClose}
      wide
      testId="kb-dialog"
      footer={
        <>
          <button type="button" className="button" onClick={onClose}>
            {t('common.cancel')}
          </button>
          <button type="button" className="button button--primary" disabled={busy || !valid} onClick={() => void save()} data-testid="kb-save">
            {kb ? t('common.save') : t('knowledge.createAction')}
          </button>
        </>
      }
    >
      <form
        className="form-grid"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <label className="field">
          <span>{t('knowledge.name')}</span>
          <input
            value={fields.name}
            required
            maxLength={100}
            aria-invalid={Boolean(errors.name) && fields.name !== ''}
            onChange={(e) => setFields({ ...fields, name: e.target.value })}
            data-testid="kb-name"
          />
        </label>
        <label className="field">
          <span>{t('knowledge.description')}</span>
          <textarea
            rows={2}
            maxLength={2000}
            value={fields.description}
            onChange={(e) => setFields({ ...fields, description: e.target.value })}
            data-testid="kb-description"
          />
        </label>
        {kb ? (
          <p className="muted">{t('knowledge.embeddingFixed', { model: kb.embedding_model })}</p>
        ) : (
          <EmbeddingModelField
            value={model}
            choices={choices}
            onChange={(next) => {
              setModelTouched(true);
              setModel(next);
            }}
          />
        )}
        <SettingsFields value={fields} errors={errors} onChange={setFields} />
        <label className="field">
          <span>{t('knowledge.rerankModel')}</span>
          <input value={rerank} spellCheck={false} autoComplete="off" placeholder={t('knowledge.rerankNone')} onChange={(e) => setRerank(e.target.value)} data-testid="kb-rerank-model" />
          <small className="muted">{t('knowledge.rerankHint')}</small>
        </label>
        {kb ? <p className="muted">{t('knowledge.settingsApplyHint')}</p> : null}
        <button type="submit" hidden tabIndex={-1} />
      </form>
    </Modal>
  );
}
