// Files being attached to a message: each is uploaded at once (POST /files) and shown as a
// chip with its progress or error until the message is sent. Pure state; the composer's
// useAttachments hook does the uploading and owns the local preview URLs.

import { ApiError } from '../api/http';

/** Most attachments one message may carry (the server's limit). */
export const MAX_ATTACHMENTS = 10;

export type UploadKind = 'image' | 'document';

export interface UploadItem {
  /** Local id (the file id is only known once uploaded). */
  id: string;
  name: string;
  size: number;
  mediaType: string;
  kind: UploadKind;
  status: 'uploading' | 'done' | 'error';
  /** Bytes sent so far. */
  loaded: number;
  fileId: string | null;
  error: UploadError | null;
  /** An object URL of the local image, for its thumbnail. */
  previewUrl: string | null;
}

export type UploadAction =
  | { type: 'add'; item: UploadItem }
  | { type: 'progress'; id: string; loaded: number }
  | { type: 'done'; id: string; fileId: string; mediaType?: string }
  | { type: 'failed'; id: string; error: UploadError }
  | { type: 'remove'; id: string }
  | { type: 'clear' };

export interface UploadError {
  reason: 'too_large' | 'unsupported' | 'other';
  /** The server's message (or the network's). */
  message: string;
}

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;

/** Images go to the model as image parts; everything else is a document. */
export function kindOf(file: { type: string; name: string }): UploadKind {
  return file.type.startsWith('image/') || (!file.type && IMAGE_NAME.test(file.name)) ? 'image' : 'document';
}

export function newUpload(id: string, file: { name: string; size: number; type: string }, previewUrl: string | null): UploadItem {
  return {
    id,
    name: file.name || 'file',
    size: file.size,
    mediaType: file.type,
    kind: kindOf(file),
    status: 'uploading',
    loaded: 0,
    fileId: null,
    error: null,
    previewUrl,
  };
}

export function uploadsReducer(items: UploadItem[], action: UploadAction): UploadItem[] {
  const change = (id: string, patch: (item: UploadItem) => Partial<UploadItem>) =>
    items.map((item) => (item.id === id ? { ...item, ...patch(item) } : item));
  switch (action.type) {
    case 'add':
      return [...items, action.item];
    case 'progress':
      return change(action.id, (item) => (item.status === 'uploading' ? { loaded: Math.min(action.loaded, item.size) } : {}));
    case 'done':
      return change(action.id, (item) => ({
        status: 'done',
        loaded: item.size,
        fileId: action.fileId,
        mediaType: action.mediaType || item.mediaType,
        error: null,
      }));
    case 'failed':
      return change(action.id, () => ({ status: 'error', error: action.error }));
    case 'remove':
      return items.filter((item) => item.id !== action.id);
    case 'clear':
      return [];
  }
}

/** Why an upload failed, for its chip: 413 too large, 415 unsupported, with the server's words. */
export function describeUploadError(error: unknown): UploadError {
  if (error instanceof ApiError) {
    const reason = error.status === 413 ? 'too_large' : error.status === 415 ? 'unsupported' : 'other';
    return { reason, message: error.message };
  }
  return { reason: 'other', message: error instanceof Error ? error.message : String(error) };
}

/** The file ids to send: uploaded ones, in the order they were added, each once. */
export function readyAttachmentIds(items: readonly UploadItem[]): string[] {
  const ids: string[] = [];
  for (const item of items) {
    if (item.status === 'done' && item.fileId && !ids.includes(item.fileId)) ids.push(item.fileId);
  }
  return ids.slice(0, MAX_ATTACHMENTS);
}

/** A message waits while any of its files is still uploading. */
export function uploadsPending(items: readonly UploadItem[]): boolean {
  return items.some((item) => item.status === 'uploading');
}

/** How many of `offered` files fit beside what is held (failed chips do not count). */
export function roomFor(items: readonly UploadItem[], offered: number): number {
  const held = items.filter((item) => item.status !== 'error').length;
  return Math.max(0, Math.min(offered, MAX_ATTACHMENTS - held));
}

/** Whole percent sent, for the progress bar. */
export function uploadPercent(item: UploadItem): number {
  if (item.status === 'done') return 100;
  if (item.size <= 0) return 0;
  return Math.min(100, Math.floor((item.loaded / item.size) * 100));
}
