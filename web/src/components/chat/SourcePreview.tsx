// A source at a glance: file name, heading and page, snippet, score. Phrasing content only
// (spans), so it may sit inside a paragraph of the reply.

import type { Source } from '../../api/types';
import { formatScore, sourceFileName, sourceLocation } from '../../chat/sources';
import { useT } from '../../i18n';

export function SourcePreview({ source, snippet = true }: { source: Source; snippet?: boolean }) {
  const t = useT();
  const { heading, page } = sourceLocation(source);
  const score = formatScore(source.score);
  return (
    <span className="source-preview">
      <span className="source-preview__file">{sourceFileName(source)}</span>
      {heading || page !== null ? (
        <span className="source-preview__where">
          {[heading, page !== null ? t('citation.page', { page }) : null].filter(Boolean).join(' · ')}
        </span>
      ) : null}
      {snippet && source.snippet ? <span className="source-preview__snippet">{source.snippet}</span> : null}
      {score ? (
        <span className="source-preview__score" title={t('citation.scoreTitle')}>
          {t('citation.score', { score })}
        </span>
      ) : null}
    </span>
  );
}
