// Files dropped or picked on a knowledge base: each is uploaded (POST /files, with progress)
// and then added to the base (POST /knowledge-bases/{id}/files), after which it shows in the
// base's file list and these rows go. Failures stay as rows with their reason until dismissed.

import { useCallback, useEffect, useReducer, useRef } from 'react';
import { filesApi } from '../../api/files';
import { knowledgeApi } from '../../api/knowledge';
import { describeUploadError, newUpload, uploadsReducer, type UploadItem } from '../../chat/uploads';

let nextId = 1;

export interface KnowledgeUploads {
  items: UploadItem[];
  add: (files: readonly File[]) => void;
  dismiss: (id: string) => void;
}

export function useKnowledgeUploads(kbId: string, onAdded: () => void): KnowledgeUploads {
  const [items, dispatch] = useReducer(uploadsReducer, []);
  const controllers = useRef(new Map<string, AbortController>());
  const added = useRef(onAdded);
  added.current = onAdded;

  const add = useCallback(
    (files: readonly File[]) => {
      for (const file of files) {
        const id = `kb-upload-${nextId++}`;
        const controller = new AbortController();
        controllers.current.set(id, controller);
        dispatch({ type: 'add', item: newUpload(id, file, null) });
        filesApi
          .upload(file, { signal: controller.signal, onProgress: (loaded) => dispatch({ type: 'progress', id, loaded }) })
          .then((uploaded) => knowledgeApi.addFile(kbId, uploaded.id))
          .then(
            () => {
              dispatch({ type: 'remove', id });
              added.current();
            },
            (error: unknown) => {
              if (!controller.signal.aborted) dispatch({ type: 'failed', id, error: describeUploadError(error) });
            },
          )
          .finally(() => controllers.current.delete(id));
      }
    },
    [kbId],
  );

  const dismiss = useCallback((id: string) => {
    controllers.current.get(id)?.abort();
    dispatch({ type: 'remove', id });
  }, []);

  useEffect(
    () => () => {
      for (const controller of controllers.current.values()) controller.abort();
    },
    [],
  );

  return { items, add, dismiss };
}
