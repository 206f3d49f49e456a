// The composer's attachments: each file added is uploaded at once (with progress) and kept as
// a chip until the message is sent or the chip removed. Owns the object URLs of local image
// previews (revoked on remove, clear and unmount) and aborts uploads that are no longer wanted.

import { useCallback, useEffect, useReducer, useRef } from 'react';
import { filesApi } from '../../api/files';
import { describeUploadError, newUpload, roomFor, uploadsReducer, type UploadItem } from '../../chat/uploads';

let nextId = 1;

export interface Attachments {
  items: UploadItem[];
  /** Starts uploading what fits; resolves to how many files were refused for lack of room. */
  add: (files: readonly File[]) => number;
  remove: (id: string) => void;
  /** After a send: forget every chip (the message now shows the files). */
  clear: () => void;
}

export function useAttachments(): Attachments {
  const [items, dispatch] = useReducer(uploadsReducer, []);
  const held = useRef(items);
  held.current = items;
  const uploads = useRef(new Map<string, AbortController>());
  const previews = useRef(new Map<string, string>());

  const forget = useCallback((id: string) => {
    uploads.current.get(id)?.abort();
    uploads.current.delete(id);
    const url = previews.current.get(id);
    if (url) URL.revokeObjectURL(url);
    previews.current.delete(id);
  }, []);

  const add = useCallback((files: readonly File[]) => {
    const room = roomFor(held.current, files.length);
    for (const file of files.slice(0, room)) {
      const id = `upload-${nextId++}`;
      const preview = file.type.startsWith('image/') ? URL.createObjectURL(file) : null;
      if (preview) previews.current.set(id, preview);
      const controller = new AbortController();
      uploads.current.set(id, controller);
      const action = { type: 'add', item: newUpload(id, file, preview) } as const;
      dispatch(action);
      // Two drops before a render must still share the ten places.
      held.current = uploadsReducer(held.current, action);
      filesApi
        .upload(file, {
          signal: controller.signal,
          onProgress: (loaded) => dispatch({ type: 'progress', id, loaded }),
        })
        .then(
          (uploaded) => dispatch({ type: 'done', id, fileId: uploaded.id, mediaType: uploaded.media_type }),
          (error: unknown) => {
            if (controller.signal.aborted) return;
            dispatch({ type: 'failed', id, error: describeUploadError(error) });
          },
        )
        .finally(() => uploads.current.delete(id));
    }
    return files.length - room;
  }, []);

  const remove = useCallback(
    (id: string) => {
      forget(id);
      dispatch({ type: 'remove', id });
    },
    [forget],
  );

  const clear = useCallback(() => {
    for (const item of held.current) forget(item.id);
    dispatch({ type: 'clear' });
  }, [forget]);

  useEffect(
    () => () => {
      for (const controller of uploads.current.values()) controller.abort();
      for (const url of previews.current.values()) URL.revokeObjectURL(url);
      uploads.current.clear();
      previews.current.clear();
    },
    [],
  );

  return { items, add, remove, clear };
}
