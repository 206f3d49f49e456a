// Where a search query occurs in a text, for highlighting it with <mark> elements (never HTML
// strings: the text is a user's message or a model's reply).

export interface TextPart {
  text: string;
  /** This part is an occurrence of the query. */
  match: boolean;
}

const SPECIAL = /[.*+?^${}()|[\]\\]/g;

/**
 * `text` cut into the occurrences of `query` (case-insensitive, like the server's search) and
 * the text between them; joined again, the parts are `text`. A blank query matches nothing.
 */
export function splitMatches(text: string, query: string): TextPart[] {
  const needle = query.trim();
  if (!needle || !text) return text ? [{ text, match: false }] : [];
  // A regular expression with the `i` and `u` flags compares character by character, so match
  // positions are positions in `text` itself (lower-casing first can change lengths).
  const pattern = new RegExp(needle.replace(SPECIAL, '\\$&'), 'giu');
  const parts: TextPart[] = [];
  let from = 0;
  for (const found of text.matchAll(pattern)) {
    const at = found.index ?? 0;
    if (at > from) parts.push({ text: text.slice(from, at), match: false });
    parts.push({ text: found[0], match: true });
    from = at + found[0].length;
  }
  if (from < text.length) parts.push({ text: text.slice(from), match: false });
  return parts;
}
