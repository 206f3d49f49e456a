// What a citation shows of a source (API.md `Source`): its file name, where in the file the
// passage is, and its score. The server's `title` is "file — heading"; older records only
// have the title.

import type { Source } from '../api/types';

const SEPARATOR = ' — ';

/** The file the passage comes from (the title without its heading). */
export function sourceFileName(source: Source): string {
  const heading = source.heading?.trim();
  if (heading && source.title.endsWith(`${SEPARATOR}${heading}`)) {
    return source.title.slice(0, source.title.length - heading.length - SEPARATOR.length);
  }
  return source.title;
}

/** Heading path and page, when known: the parts of "Handbook > Refunds · p. 3". */
export function sourceLocation(source: Source): { heading: string | null; page: number | null } {
  const heading = source.heading?.trim() || null;
  const page = typeof source.page === 'number' ? source.page : null;
  return { heading, page };
}

/** A similarity score as two decimals ("0.82"); null when the server sent none. */
export function formatScore(score: number | null | undefined): string | null {
  return typeof score === 'number' && Number.isFinite(score) ? score.toFixed(2) : null;
}

/** The indices a reply may cite. */
export function sourceIndices(sources: readonly Source[] | undefined): number[] {
  return (sources ?? []).map((s) => s.index);
}
