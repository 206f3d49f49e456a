// In the chat header: which knowledge bases the session's answers draw on (a book and a
// count); a click opens the session settings where they are chosen.

import type { Session } from '../../api/types';
import { useT } from '../../i18n';
import { knowledgeStore } from '../../state/knowledge';
import { useStore } from '../../state/store';
import { Icon } from '../Icon';

export function KnowledgeIndicator({ session, onOpen }: { session: Session; onOpen: () => void }) {
  const t = useT();
  const bases = useStore(knowledgeStore, (s) => s.bases);
  const ids = session.knowledge_base_ids ?? [];
  if (ids.length === 0) return null;
  const names = ids.map((id) => bases.find((b) => b.id === id)?.name).filter((name): name is string => Boolean(name));
  const label = names.length ? t('knowledge.indicatorNamed', { names: names.join(', ') }) : t('knowledge.indicator', { count: ids.length });
  return (
    <button type="button" className="kb-indicator" aria-label={label} title={label} onClick={onOpen} data-testid="chat-knowledge" data-count={ids.length}>
      <Icon name="book" size={15} />
      <span>{ids.length}</span>
    </button>
  );
}
