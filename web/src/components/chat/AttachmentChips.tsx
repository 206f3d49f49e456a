// The composer's attachment chips: a thumbnail (images, from the local file) or name and size
// (documents), upload progress, the reason an upload failed, and a remove button.

import type { UploadItem } from '../../chat/uploads';
import { uploadPercent } from '../../chat/uploads';
import { useT } from '../../i18n';
import { formatBytes } from '../../lib/format';
import { Icon } from '../Icon';

function ChipError({ item }: { item: UploadItem }) {
  const t = useT();
  if (!item.error) return null;
  const message = item.error.message;
  const text =
    item.error.reason === 'too_large'
      ? t('upload.tooLarge', { message })
      : item.error.reason === 'unsupported'
        ? t('upload.unsupported', { message })
        : t('upload.failed', { message });
  return (
    <span className="attachment-chip__error" role="alert" data-testid="attachment-error">
      {text}
    </span>
  );
}

export function AttachmentChips({ items, onRemove }: { items: readonly UploadItem[]; onRemove: (id: string) => void }) {
  const t = useT();
  if (items.length === 0) return null;
  return (
    <ul className="attachment-chips" aria-label={t('upload.attachments')} data-testid="composer-attachments">
      {items.map((item) => {
        const percent = uploadPercent(item);
        return (
          <li
            key={item.id}
            className={`attachment-chip attachment-chip--${item.kind} attachment-chip--${item.status}`}
            data-testid="attachment-chip"
            data-status={item.status}
            data-name={item.name}
          >
            {item.kind === 'image' && item.previewUrl ? (
              <img className="attachment-chip__thumb" src={item.previewUrl} alt="" />
            ) : (
              <span className="attachment-chip__icon" aria-hidden="true">
                <Icon name={item.status === 'error' ? 'alert' : 'file'} size={18} />
              </span>
            )}
            <span className="attachment-chip__text">
              <span className="attachment-chip__name" title={item.name}>
                {item.name}
              </span>
              <span className="attachment-chip__size">
                {item.status === 'uploading' ? t('upload.progress', { percent }) : formatBytes(item.size)}
              </span>
              <ChipError item={item} />
            </span>
            {item.status === 'uploading' ? (
              <progress className="attachment-chip__progress" max={100} value={percent} aria-label={t('upload.uploading', { name: item.name })} />
            ) : null}
            <button
              type="button"
              className="icon-button icon-button--small attachment-chip__remove"
              aria-label={t('upload.remove', { name: item.name })}
              title={t('upload.remove', { name: item.name })}
              onClick={() => onRemove(item.id)}
              data-testid="attachment-remove"
            >
              <Icon name="x" size={14} />
            </button>
          </li>
        );
      })}
    </ul>
  );
}
