// In the chat header: the session has MCP servers turned on (a wrench and a count, their names
// in the label); a click opens the session settings where they are chosen.

import { useEffect } from 'react';
import type { Session } from '../../api/types';
import { staleRefs, toolServerName } from '../../chat/toolServers';
import { useT } from '../../i18n';
import { useStore } from '../../state/store';
import { loadToolServers, toolServersStore } from '../../state/toolServers';
import { Icon } from '../Icon';

export function ToolsIndicator({ session, onOpen }: { session: Session; onOpen: () => void }) {
  const t = useT();
  const list = useStore(toolServersStore, (s) => s.list);
  const loaded = useStore(toolServersStore, (s) => s.loaded);
  const named = session.tools ?? [];

  useEffect(() => {
    // The names are a nicety: without them the label gives the count.
    if (named.length > 0 && !loaded) loadToolServers().catch(() => undefined);
  }, [named.length, loaded]);

  // Once listed, a server no longer offered does not count as on.
  const refs = list ? named.filter((ref) => !staleRefs([ref], list).length) : named;
  if (refs.length === 0) return null;
  const names = refs.map((ref) => toolServerName(list, ref)).filter((name): name is string => Boolean(name));
  const label = names.length === refs.length ? t('sessionTools.indicatorNamed', { names: names.join(', ') }) : t('sessionTools.indicator', { count: refs.length });
  return (
    <button type="button" className="kb-indicator" aria-label={label} title={label} onClick={onOpen} data-testid="chat-tools" data-count={refs.length}>
      <Icon name="wrench" size={15} />
      <span>{refs.length}</span>
    </button>
  );
}
