// A knowledge base's files, read again while any of them is still being ingested (quick at
// first, then slower) and never after the page is gone or every file is indexed or failed.

import { useCallback, useEffect, useRef, useState } from 'react';
import { knowledgeApi } from '../../api/knowledge';
import type { KnowledgeFile } from '../../api/types';
import { needsPolling, pollDelay } from '../../knowledge/ingest';

export interface KnowledgeFiles {
  files: KnowledgeFile[];
  loaded: boolean;
  error: string | null;
  /** Reads the list now (after an upload, retry or removal); polling resumes if needed. */
  reload: () => Promise<void>;
}

export function useKnowledgeFiles(kbId: string): KnowledgeFiles {
  const [files, setFiles] = useState<KnowledgeFile[]>([]);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const polls = useRef(0);
  const alive = useRef(true);
  const inflight = useRef<AbortController | null>(null);

  const read = useCallback(async (): Promise<void> => {
    clearTimeout(timer.current);
    inflight.current?.abort();
    const controller = new AbortController();
    inflight.current = controller;
    try {
      const { data } = await knowledgeApi.files(kbId, controller.signal);
      if (!alive.current || controller.signal.aborted) return;
      setFiles(data);
      setLoaded(true);
      setError(null);
      if (needsPolling(data)) {
        timer.current = setTimeout(() => void read(), pollDelay(polls.current++));
      } else {
        polls.current = 0;
      }
    } catch (caught) {
      if (!alive.current || controller.signal.aborted) return;
      setError(caught instanceof Error ? caught.message : String(caught));
      setLoaded(true);
      // A passing failure (a restart) should not end the watch: try again later.
      timer.current = setTimeout(() => void read(), pollDelay(polls.current++) * 2);
    }
  }, [kbId]);

  useEffect(() => {
    alive.current = true;
    polls.current = 0;
    void read();
    return () => {
      alive.current = false;
      clearTimeout(timer.current);
      inflight.current?.abort();
    };
  }, [read]);

  const reload = useCallback(() => {
    polls.current = 0;
    return read();
  }, [read]);

  return { files, loaded, error, reload };
}
