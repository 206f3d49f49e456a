// A knowledge-base file's ingestion status: the step as a badge, a bar while embedding, and
// for a failed file the reason.

import type { KnowledgeFile } from '../../api/types';
import { ingestProgress, isFinal } from '../../knowledge/ingest';
import { useT, type MessageKey } from '../../i18n';

const LABEL: Record<string, MessageKey> = {
  queued: 'knowledge.status.queued',
  parsing: 'knowledge.status.parsing',
  chunking: 'knowledge.status.chunking',
  embedding: 'knowledge.status.embedding',
  indexed: 'knowledge.status.indexed',
  failed: 'knowledge.status.failed',
};

export function FileStatus({ file }: { file: KnowledgeFile }) {
  const t = useT();
  const { percent } = ingestProgress(file);
  const label = LABEL[file.status] ? t(LABEL[file.status] as MessageKey) : file.status;
  return (
    <div className="kb-status">
      <span className={`badge badge--${file.status}`} data-testid="kb-file-status">
        {!isFinal(file.status) ? <span className="spinner spinner--small" aria-hidden="true" /> : null}
        {label}
        {file.status === 'embedding' && percent !== null ? ` ${percent}%` : ''}
      </span>
      {file.status === 'embedding' && percent !== null ? (
        <progress className="kb-status__bar" max={100} value={percent} aria-label={t('knowledge.embeddingProgress', { name: file.name })} />
      ) : null}
      {file.status === 'failed' && file.error ? (
        <span className="kb-status__error" data-testid="kb-file-error">
          {file.error}
        </span>
      ) : null}
    </div>
  );
}
