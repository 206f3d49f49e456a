// Citations in a reply: `[n]` (or `[1, 2]`) in the text, where n is the index of a source the
// reply was given, becomes a `citation` node that renders as <sup data-citation="n">, which
// Markdown.tsx hands to a React component (a chip). Only text nodes are read, so `[1]` in
// code, math or a link stays as written; an index the reply has no source for stays text too.
// Nothing here produces HTML: the chip is a hast element built from data, never parsed markup.

import type { Data, Literal, Root, RootContent, Text } from 'mdast';
import { SKIP, visit } from 'unist-util-visit';

export interface CitationData extends Data {
  hName: 'sup';
  hProperties: { dataCitation: number; className: string[] };
  hChildren: [{ type: 'text'; value: string }];
}

/** One citation of source `index`. A literal so the Markdown text of the reply survives. */
export interface Citation extends Literal {
  type: 'citation';
  index: number;
  data: CitationData;
}

declare module 'mdast' {
  interface PhrasingContentMap {
    citation: Citation;
  }
  interface RootContentMap {
    citation: Citation;
  }
}

export interface CitationOptions {
  /** The source indices the reply has; `[n]` for any other n is left as text. */
  indices: readonly number[];
}

// `[1]`, `[12]`, `[1, 2]`, `[1,2，3]`: up to three digits each, so `[2024]` stays a year.
const GROUP = /\[(\d{1,3}(?:\s*[,，]\s*\d{1,3})*)\]/g;

export function citationNode(index: number, value: string): Citation {
  return {
    type: 'citation',
    index,
    value,
    data: {
      hName: 'sup',
      hProperties: { dataCitation: index, className: ['citation'] },
      hChildren: [{ type: 'text', value: String(index) }],
    },
  };
}

/**
 * The pieces of `text`: plain strings and citations. A group is a citation only when every
 * number in it is a known index (`[1, 9]` with no source 9 stays text as a whole).
 */
export function splitCitations(text: string, known: ReadonlySet<number>): (string | { index: number; raw: string })[] {
  const pieces: (string | { index: number; raw: string })[] = [];
  let last = 0;
  for (const match of text.matchAll(GROUP)) {
    const numbers = (match[1] ?? '').split(/\s*[,，]\s*/).map(Number);
    if (!numbers.every((n) => known.has(n))) continue;
    const start = match.index ?? 0;
    if (start > last) pieces.push(text.slice(last, start));
    numbers.forEach((index, i) => pieces.push({ index, raw: numbers.length === 1 ? match[0] : i === 0 ? match[0] : '' }));
    last = start + match[0].length;
  }
  if (last === 0) return [text];
  if (last < text.length) pieces.push(text.slice(last));
  return pieces;
}

export function remarkCitations(options: CitationOptions) {
  const known = new Set(options.indices);
  return (tree: Root) => {
    if (known.size === 0) return;
    visit(tree, (node, index, parent) => {
      // A chip inside a link would be a button inside an anchor: leave link text alone.
      if (node.type === 'link' || node.type === 'linkReference') return SKIP;
      if (node.type !== 'text' || !parent || index === undefined) return undefined;
      const pieces = splitCitations((node as Text).value, known);
      if (pieces.length === 1 && typeof pieces[0] === 'string') return undefined;
      const replacement: RootContent[] = pieces.map((piece) =>
        typeof piece === 'string' ? { type: 'text', value: piece } : citationNode(piece.index, piece.raw),
      );
      parent.children.splice(index, 1, ...(replacement as typeof parent.children));
      return [SKIP, index + replacement.length];
    });
  };
}

/** The citation index of a rendered hast element, if it is one. */
export function citationIndex(properties: Record<string, unknown> | undefined): number | null {
  const value = properties?.dataCitation;
  const index = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isInteger(index) && index > 0 ? index : null;
}
