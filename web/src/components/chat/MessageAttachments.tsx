// The files a user message carried: images as thumbnails and documents as chips, each loaded
// or downloaded through the file's signed URL (GET /files/{id}), opened in a new tab.

import type { Attachment } from '../../api/types';
import { useT } from '../../i18n';
import { formatBytes } from '../../lib/format';
import { useFileUrl } from '../../state/fileUrls';
import { Icon } from '../Icon';

function ImageAttachment({ attachment }: { attachment: Attachment }) {
  const t = useT();
  const { url, failed } = useFileUrl(attachment.file_id);
  const label = t('attachment.open', { name: attachment.name });
  if (!url) {
    return (
      <span className="message-attachment message-attachment--image message-attachment--pending" title={attachment.name}>
        {failed ? <Icon name="alert" /> : <span className="spinner" aria-hidden="true" />}
        <span className="sr-only">{failed ? t('attachment.unavailable', { name: attachment.name }) : attachment.name}</span>
      </span>
    );
  }
  return (
    <a className="message-attachment message-attachment--image" href={url} target="_blank" rel="noopener noreferrer" aria-label={label} title={attachment.name}>
      <img src={url} alt={attachment.name} loading="lazy" />
    </a>
  );
}

function DocumentAttachment({ attachment }: { attachment: Attachment }) {
  const t = useT();
  const { url } = useFileUrl(attachment.file_id);
  const body = (
    <>
      <Icon name="file" size={18} />
      <span className="message-attachment__text">
        <span className="message-attachment__name">{attachment.name}</span>
        <span className="message-attachment__size">{formatBytes(attachment.size)}</span>
      </span>
    </>
  );
  return url ? (
    <a
      className="message-attachment message-attachment--document"
      href={url}
      download={attachment.name}
      target="_blank"
      rel="noopener noreferrer"
      aria-label={t('attachment.download', { name: attachment.name })}
    >
      {body}
    </a>
  ) : (
    <span className="message-attachment message-attachment--document">{body}</span>
  );
}

export function MessageAttachments({ attachments }: { attachments: readonly Attachment[] }) {
  const t = useT();
  if (attachments.length === 0) return null;
  return (
    <ul className="message-attachments" aria-label={t('upload.attachments')} data-testid="message-attachments">
      {attachments.map((attachment) => (
        <li key={attachment.file_id} data-testid="message-attachment" data-kind={attachment.kind}>
          {attachment.kind === 'image' ? <ImageAttachment attachment={attachment} /> : <DocumentAttachment attachment={attachment} />}
        </li>
      ))}
    </ul>
  );
}
