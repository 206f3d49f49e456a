// A knowledge-base file's way to being searchable: queued -> parsing -> chunking -> embedding
// -> indexed, or failed (with a reason, retryable). The file list polls while any file is on
// its way and stops once every one is indexed or failed.

import type { KnowledgeFile } from '../api/types';

export const INGEST_STEPS = ['queued', 'parsing', 'chunking', 'embedding', 'indexed'] as const;
export type IngestStep = (typeof INGEST_STEPS)[number];

/** Statuses after which nothing changes without the user (a retry, a removal). */
export function isFinal(status: string): boolean {
  return status === 'indexed' || status === 'failed';
}

/** Whether the list must be read again to follow ingestion. */
export function needsPolling(files: readonly Pick<KnowledgeFile, 'status'>[]): boolean {
  return files.some((file) => !isFinal(file.status));
}

/** How far a file is: its step (1-based, of five) and, while embedding, the chunks done. */
export function ingestProgress(file: Pick<KnowledgeFile, 'status' | 'progress'>): { step: number; percent: number | null } {
  const step = INGEST_STEPS.indexOf(file.status as IngestStep) + 1;
  if (file.status === 'indexed') return { step, percent: 100 };
  const { chunks_total: total, chunks_embedded: done } = file.progress ?? { chunks_total: 0, chunks_embedded: 0 };
  if (file.status === 'embedding' && total > 0) return { step, percent: Math.min(100, Math.floor((done / total) * 100)) };
  return { step, percent: null };
}

/** Delay before the next poll: quick at first, slower for long ingestions. */
export function pollDelay(polls: number): number {
  return polls < 20 ? 1000 : polls < 60 ? 2500 : 5000;
}
