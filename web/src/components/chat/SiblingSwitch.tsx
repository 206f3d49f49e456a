// "‹ 2 / 3 ›" under a message that has siblings (other edits or regenerations of it).

import type { Message } from '../../api/types';
import { siblingPosition, siblingTarget } from '../../chat/branches';
import { useT } from '../../i18n';
import { Icon } from '../Icon';

export function SiblingSwitch({ message, onSwitch, disabled }: { message: Message; onSwitch: (targetId: string) => void; disabled?: boolean }) {
  const t = useT();
  const position = siblingPosition(message);
  if (!position) return null;
  const previous = siblingTarget(message, -1);
  const next = siblingTarget(message, 1);
  return (
    <span className="sibling-switch" role="group" aria-label={t('message.branches')}>
      <button
        type="button"
        className="icon-button icon-button--small"
        aria-label={t('message.previousBranch')}
        disabled={disabled || !previous}
        onClick={() => previous && onSwitch(previous)}
        data-testid="sibling-prev"
      >
        <Icon name="chevron-left" size={14} />
      </button>
      <span className="sibling-switch__position" data-testid="sibling-position">
        {position.current} / {position.count}
      </span>
      <button
        type="button"
        className="icon-button icon-button--small"
        aria-label={t('message.nextBranch')}
        disabled={disabled || !next}
        onClick={() => next && onSwitch(next)}
        data-testid="sibling-next"
      >
        <Icon name="chevron-right" size={14} />
      </button>
    </span>
  );
}
