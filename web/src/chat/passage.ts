// The whole passage behind a citation. A source carries a snippet of at most 300 characters
// (ending in "…" when cut); there is no endpoint that reads one chunk, so a cut passage is
// found again by searching its knowledge base for the snippet and picking the hit with the
// same chunk id. Any failure (the base or file is gone) falls back to the snippet.

import { knowledgeApi } from '../api/knowledge';
import type { RetrievalHit, Source } from '../api/types';

const ELLIPSIS = '…';
/** Hits asked for: the chunk is normally first; a few more allow for near-duplicates. */
const SEARCH_TOP_K = 10;

const found = new Map<string, Promise<string>>();

/** Whether the snippet is the whole passage already (not cut by the server). */
export function snippetIsWhole(source: Source): boolean {
  return !source.snippet.trimEnd().endsWith(ELLIPSIS);
}

/** The text of the hit that is the source's chunk, if among `hits`. */
export function passageFromHits(source: Source, hits: readonly RetrievalHit[]): string | null {
  return hits.find((hit) => hit.chunk_id === source.chunk_id)?.text ?? null;
}

export function loadPassage(source: Source): Promise<string> {
  const { knowledge_base_id: kbId, chunk_id: chunkId } = source;
  if (snippetIsWhole(source) || !kbId || !chunkId) return Promise.resolve(source.snippet);
  let pending = found.get(chunkId);
  if (!pending) {
    const query = source.snippet.trimEnd().slice(0, -ELLIPSIS.length).trim();
    pending = knowledgeApi
      .search(kbId, query, SEARCH_TOP_K)
      .then((answer) => passageFromHits(source, answer.data) ?? source.snippet)
      .catch(() => {
        found.delete(chunkId);
        return source.snippet;
      });
    found.set(chunkId, pending);
  }
  return pending;
}
