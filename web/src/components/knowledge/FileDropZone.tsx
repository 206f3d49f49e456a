// Where files join a knowledge base: drop them here, or pick them with the button (the zone
// itself is not a button, so keyboard users have one clear control).

import { useRef } from 'react';
import { useT } from '../../i18n';
import { useFileDrop } from '../../lib/useFileDrop';
import { HiddenFileInput } from '../HiddenFileInput';
import { Icon } from '../Icon';

export function FileDropZone({ onFiles }: { onFiles: (files: File[]) => void }) {
  const t = useT();
  const input = useRef<HTMLInputElement>(null);
  const drop = useFileDrop(onFiles);
  return (
    <div className={drop.dragging ? 'drop-zone drop-zone--active' : 'drop-zone'} {...drop.handlers} data-testid="kb-drop-zone">
      <Icon name="upload" size={28} />
      <p className="drop-zone__title">{t('knowledge.dropTitle')}</p>
      <p className="muted drop-zone__hint">{t('knowledge.dropHint')}</p>
      <button type="button" className="button" onClick={() => input.current?.click()} data-testid="kb-pick-files">
        <Icon name="paperclip" /> {t('knowledge.pickFiles')}
      </button>
      <HiddenFileInput ref={input} onFiles={onFiles} testId="kb-file-input" />
    </div>
  );
}
