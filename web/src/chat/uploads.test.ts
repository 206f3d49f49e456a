import { describe, expect, it } from 'vitest';
import { ApiError } from '../api/http';
import {
  MAX_ATTACHMENTS,
  describeUploadError,
  kindOf,
  newUpload,
  readyAttachmentIds,
  roomFor,
  uploadPercent,
  uploadsPending,
  uploadsReducer,
  type UploadItem,
} from './uploads';

const png = { name: 'shot.png', size: 1000, type: 'image/png' };
const doc = { name: 'handbook.md', size: 400, type: 'text/markdown' };

function run(...actions: Parameters<typeof uploadsReducer>[1][]): UploadItem[] {
  return actions.reduce(uploadsReducer, [] as UploadItem[]);
}

describe('upload state', () => {
  it('goes uploading -> done with progress, keeping the order files were added', () => {
    const items = run(
      { type: 'add', item: newUpload('a', png, 'blob:a') },
      { type: 'add', item: newUpload('b', doc, null) },
      { type: 'progress', id: 'a', loaded: 500 },
    );
    expect(items.map((i) => [i.id, i.kind, i.status])).toEqual([
      ['a', 'image', 'uploading'],
      ['b', 'document', 'uploading'],
    ]);
    expect(uploadPercent(items[0] as UploadItem)).toBe(50);
    expect(uploadsPending(items)).toBe(true);
    expect(readyAttachmentIds(items)).toEqual([]);

    const done = [
      { type: 'done', id: 'b', fileId: 'f-b' },
      { type: 'done', id: 'a', fileId: 'f-a', mediaType: 'image/png' },
    ].reduce((state, action) => uploadsReducer(state, action as Parameters<typeof uploadsReducer>[1]), items);
    expect(uploadsPending(done)).toBe(false);
    expect(readyAttachmentIds(done)).toEqual(['f-a', 'f-b']);
    expect(uploadPercent(done[0] as UploadItem)).toBe(100);
  });

  it('a failed upload keeps its reason and is left out of the message; removing drops it', () => {
    const items = run(
      { type: 'add', item: newUpload('a', png, null) },
      { type: 'failed', id: 'a', error: { reason: 'too_large', message: 'file exceeds 20 MB' } },
    );
    expect(items[0]).toMatchObject({ status: 'error', error: { reason: 'too_large', message: 'file exceeds 20 MB' } });
    expect(uploadsPending(items)).toBe(false);
    expect(readyAttachmentIds(items)).toEqual([]);
    expect(uploadsReducer(items, { type: 'remove', id: 'a' })).toEqual([]);
  });

  it('progress after the upload finished does not move it back', () => {
    const items = run({ type: 'add', item: newUpload('a', doc, null) }, { type: 'done', id: 'a', fileId: 'f' }, { type: 'progress', id: 'a', loaded: 1 });
    expect(items[0]).toMatchObject({ status: 'done', loaded: 400 });
  });

  it('sends each file once, even when the server answered the same file for two uploads', () => {
    const items = run(
      { type: 'add', item: newUpload('a', doc, null) },
      { type: 'add', item: newUpload('b', doc, null) },
      { type: 'done', id: 'a', fileId: 'same' },
      { type: 'done', id: 'b', fileId: 'same' },
    );
    expect(readyAttachmentIds(items)).toEqual(['same']);
  });

  it('takes at most ten files per message, failed ones not counting', () => {
    const nine = Array.from({ length: 9 }, (_, i) => newUpload(String(i), doc, null));
    expect(roomFor(nine, 5)).toBe(1);
    expect(roomFor([...nine, { ...newUpload('x', doc, null), status: 'error' }], 5)).toBe(1);
    expect(roomFor([], 30)).toBe(MAX_ATTACHMENTS);
  });

  it('tells images from documents by type, or by name when the browser gave no type', () => {
    expect(kindOf({ type: 'image/webp', name: 'a' })).toBe('image');
    expect(kindOf({ type: '', name: 'photo.JPG' })).toBe('image');
    expect(kindOf({ type: 'application/pdf', name: 'a.pdf' })).toBe('document');
    expect(kindOf({ type: '', name: 'notes' })).toBe('document');
  });

  it('names 413 and 415 refusals and keeps the server message', () => {
    expect(describeUploadError(new ApiError(413, 'file_too_large', 'The file is larger than 20 MiB.'))).toEqual({
      reason: 'too_large',
      message: 'The file is larger than 20 MiB.',
    });
    expect(describeUploadError(new ApiError(415, 'unsupported_file_type', 'executables are not accepted'))).toEqual({
      reason: 'unsupported',
      message: 'executables are not accepted',
    });
    expect(describeUploadError(new Error('offline'))).toEqual({ reason: 'other', message: 'offline' });
  });
});
