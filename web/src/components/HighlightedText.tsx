// A text with the occurrences of a query wrapped in <mark>: React elements, never an HTML
// string, so a message that contains markup stays text.

import { useMemo } from 'react';
import { splitMatches } from '../lib/matches';

export function HighlightedText({ text, query }: { text: string; query: string }) {
  const parts = useMemo(() => splitMatches(text, query), [text, query]);
  return (
    <>
      {parts.map((part, i) =>
        part.match ? (
          <mark key={i} className="match" data-testid="search-match">
            {part.text}
          </mark>
        ) : (
          part.text
        ),
      )}
    </>
  );
}
