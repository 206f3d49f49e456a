// One source opened: the whole passage (see chat/passage.ts), where it is in its file, its
// score, and a link that downloads the file through its signed URL.

import { useEffect, useState } from 'react';
import type { Source } from '../../api/types';
import { loadPassage, snippetIsWhole } from '../../chat/passage';
import { formatScore, sourceFileName, sourceLocation } from '../../chat/sources';
import { useT } from '../../i18n';
import { useFileUrl } from '../../state/fileUrls';
import { Icon } from '../Icon';
import { Modal } from '../Modal';

function DownloadLink({ fileId, name }: { fileId: string; name: string }) {
  const t = useT();
  const { url, failed } = useFileUrl(fileId);
  if (failed) return <span className="muted">{t('sources.fileGone')}</span>;
  return url ? (
    <a className="button" href={url} download={name} target="_blank" rel="noopener noreferrer" data-testid="source-download">
      <Icon name="download" /> {t('sources.download')}
    </a>
  ) : (
    <span className="spinner" role="status" aria-label={t('common.loading')} />
  );
}

export function SourcePanel({ source, onClose }: { source: Source; onClose: () => void }) {
  const t = useT();
  const [passage, setPassage] = useState<string | null>(snippetIsWhole(source) ? source.snippet : null);
  const { heading, page } = sourceLocation(source);
  const score = formatScore(source.score);
  const name = sourceFileName(source);

  useEffect(() => {
    let live = true;
    void loadPassage(source).then((text) => live && setPassage(text));
    return () => {
      live = false;
    };
  }, [source]);

  return (
    <Modal
      title={t('sources.panelTitle', { index: source.index })}
      onClose={onClose}
      wide
      testId="source-panel"
      footer={
        <>
          {source.file_id ? <DownloadLink fileId={source.file_id} name={name} /> : null}
          <button type="button" className="button" onClick={onClose}>
            {t('common.close')}
          </button>
        </>
      }
    >
      <div className="source-panel">
        <p className="source-panel__file">
          <Icon name="file" size={16} /> <strong>{name}</strong>
        </p>
        <dl className="source-panel__meta">
          {heading ? (
            <>
              <dt>{t('sources.heading')}</dt>
              <dd>{heading}</dd>
            </>
          ) : null}
          {page !== null ? (
            <>
              <dt>{t('sources.page')}</dt>
              <dd>{page}</dd>
            </>
          ) : null}
          {score ? (
            <>
              <dt title={t('citation.scoreTitle')}>{t('sources.score')}</dt>
              <dd>{score}</dd>
            </>
          ) : null}
        </dl>
        <blockquote className="source-panel__passage" data-testid="source-passage" aria-busy={passage === null}>
          {passage ?? source.snippet}
        </blockquote>
        {passage === null ? (
          <p className="muted" role="status">
            <span className="spinner" aria-hidden="true" /> {t('sources.loadingPassage')}
          </p>
        ) : null}
      </div>
    </Modal>
  );
}
