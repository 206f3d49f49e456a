// The files of a knowledge base with their status, and the uploads on their way in; failed
// files can be retried, any file removed from the base (the file itself stays in your files).

import type { KnowledgeFile } from '../../api/types';
import type { UploadItem } from '../../chat/uploads';
import { uploadPercent } from '../../chat/uploads';
import { useLanguage, useT } from '../../i18n';
import { formatBytes, formatDateTime } from '../../lib/format';
import { Icon } from '../Icon';
import { FileStatus } from './FileStatus';

interface Props {
  files: readonly KnowledgeFile[];
  uploads: readonly UploadItem[];
  onRetry: (file: KnowledgeFile) => void;
  onRemove: (file: KnowledgeFile) => void;
  onDismissUpload: (id: string) => void;
}

function UploadRow({ item, onDismiss }: { item: UploadItem; onDismiss: () => void }) {
  const t = useT();
  const percent = uploadPercent(item);
  return (
    <tr data-testid="kb-upload" data-name={item.name} data-status={item.status}>
      <td className="cell-wrap">
        <span className="cell-main">{item.name}</span>
      </td>
      <td>{formatBytes(item.size)}</td>
      <td>
        {item.status === 'error' ? (
          <div className="kb-status">
            <span className="badge badge--failed">{t('knowledge.uploadFailed')}</span>
            <span className="kb-status__error" role="alert">
              {item.error?.reason === 'too_large'
                ? t('upload.tooLarge', { message: item.error.message })
                : item.error?.reason === 'unsupported'
                  ? t('upload.unsupported', { message: item.error.message })
                  : t('upload.failed', { message: item.error?.message ?? '' })}
            </span>
          </div>
        ) : (
          <div className="kb-status">
            <span className="badge">{t('upload.progress', { percent })}</span>
            <progress className="kb-status__bar" max={100} value={percent} aria-label={t('upload.uploading', { name: item.name })} />
          </div>
        )}
      </td>
      <td />
      <td className="kb-files__actions">
        <button type="button" className="icon-button icon-button--small" aria-label={t('upload.remove', { name: item.name })} title={t('upload.remove', { name: item.name })} onClick={onDismiss}>
          <Icon name="x" size={15} />
        </button>
      </td>
    </tr>
  );
}

export function KnowledgeFileList({ files, uploads, onRetry, onRemove, onDismissUpload }: Props) {
  const t = useT();
  const language = useLanguage();
  if (files.length === 0 && uploads.length === 0) return <p className="muted">{t('knowledge.noFiles')}</p>;
  return (
    <div className="table-wrap">
      <table className="table kb-files" data-testid="kb-files">
        <thead>
          <tr>
            <th scope="col">{t('knowledge.fileName')}</th>
            <th scope="col">{t('knowledge.fileSize')}</th>
            <th scope="col">{t('knowledge.fileStatus')}</th>
            <th scope="col">{t('knowledge.fileUpdated')}</th>
            <th scope="col">
              <span className="sr-only">{t('common.actions')}</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {uploads.map((item) => (
            <UploadRow key={item.id} item={item} onDismiss={() => onDismissUpload(item.id)} />
          ))}
          {files.map((file) => (
            <tr key={file.file_id} data-testid="kb-file" data-name={file.name} data-status={file.status}>
              <td className="cell-wrap">
                <span className="cell-main">{file.name}</span>
                <div className="cell-sub">{file.media_type}</div>
              </td>
              <td>{formatBytes(file.size_bytes)}</td>
              <td>
                <FileStatus file={file} />
              </td>
              <td>{formatDateTime(file.updated_at, language)}</td>
              <td className="kb-files__actions">
                {file.status === 'failed' ? (
                  <button type="button" className="button button--small" onClick={() => onRetry(file)} data-testid="kb-file-retry">
                    <Icon name="refresh" size={14} /> {t('knowledge.retry')}
                  </button>
                ) : null}
                <button
                  type="button"
                  className="icon-button icon-button--small"
                  aria-label={t('knowledge.removeFile', { name: file.name })}
                  title={t('knowledge.removeFile', { name: file.name })}
                  onClick={() => onRemove(file)}
                  data-testid="kb-file-remove"
                >
                  <Icon name="trash" size={15} />
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
