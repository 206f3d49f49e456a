// "Sources (n)" below a reply: collapsed by default; each source opens its passage.

import type { Source } from '../../api/types';
import { useT } from '../../i18n';
import { Icon } from '../Icon';
import { SourcePreview } from './SourcePreview';

export function SourcesList({ sources, onOpen }: { sources: readonly Source[]; onOpen: (source: Source) => void }) {
  const t = useT();
  return (
    <details className="sources" data-testid="message-sources">
      <summary data-testid="message-sources-toggle">
        <Icon name="book" size={14} /> {t('sources.title', { count: sources.length })}
      </summary>
      <ol className="sources__list">
        {sources.map((source) => (
          <li key={source.index}>
            <button type="button" className="sources__item" onClick={() => onOpen(source)} data-testid="source-item" data-index={source.index}>
              <span className="sources__index" aria-hidden="true">
                {source.index}
              </span>
              <SourcePreview source={source} snippet={false} />
            </button>
          </li>
        ))}
      </ol>
    </details>
  );
}
