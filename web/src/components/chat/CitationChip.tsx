// A citation `[n]` in a reply: a small superscript button. Hover or focus shows the source at a
// glance (a tooltip that can itself be hovered, closed with Esc); a click opens the passage.
// The tooltip is portalled and placed with fixed coordinates: message rows are separate
// stacking contexts, so anything positioned inside one would hide under the next.

import { useEffect, useId, useRef, useState, type CSSProperties } from 'react';
import { createPortal } from 'react-dom';
import type { Source } from '../../api/types';
import { sourceFileName } from '../../chat/sources';
import { useT } from '../../i18n';
import { SourcePreview } from './SourcePreview';

const TIP_WIDTH = 320;
/** Room the tooltip needs above the chip to open upwards. */
const ROOM_ABOVE = 200;
/** Time to move the pointer from the chip onto the tooltip. */
const CLOSE_DELAY_MS = 150;

function placement(anchor: DOMRect): CSSProperties {
  const left = Math.max(8, Math.min(anchor.left + anchor.width / 2 - TIP_WIDTH / 2, window.innerWidth - TIP_WIDTH - 8));
  return anchor.top > ROOM_ABOVE
    ? { left, bottom: window.innerHeight - anchor.top + 6, width: TIP_WIDTH }
    : { left, top: anchor.bottom + 6, width: TIP_WIDTH };
}

export function CitationChip({ source, onOpen }: { source: Source; onOpen: (source: Source) => void }) {
  const t = useT();
  const tipId = useId();
  const button = useRef<HTMLButtonElement>(null);
  const closing = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const [style, setStyle] = useState<CSSProperties | null>(null);
  // Focus comes back to the chip when its passage panel closes; that is no request to preview.
  const returning = useRef(false);

  const show = () => {
    clearTimeout(closing.current);
    if (button.current) setStyle(placement(button.current.getBoundingClientRect()));
  };
  const hide = () => {
    clearTimeout(closing.current);
    setStyle(null);
  };
  const hideSoon = () => {
    clearTimeout(closing.current);
    closing.current = setTimeout(() => setStyle(null), CLOSE_DELAY_MS);
  };

  // A fixed tooltip would drift from its chip when the list scrolls: close it instead.
  useEffect(() => {
    if (!style) return;
    window.addEventListener('scroll', hide, true);
    window.addEventListener('resize', hide);
    return () => {
      window.removeEventListener('scroll', hide, true);
      window.removeEventListener('resize', hide);
    };
  }, [style]);
  useEffect(() => () => clearTimeout(closing.current), []);

  return (
    <sup className="citation">
      <button
        ref={button}
        type="button"
        className="citation__chip"
        aria-label={t('citation.label', { index: source.index, title: sourceFileName(source) })}
        aria-describedby={style ? tipId : undefined}
        onMouseEnter={show}
        onMouseLeave={hideSoon}
        onFocus={() => {
          if (returning.current) returning.current = false;
          else show();
        }}
        onBlur={hide}
        onKeyDown={(event) => {
          if (event.key === 'Escape' && style) {
            // Esc closes the tooltip; it must not also stop the reply being generated.
            event.preventDefault();
            event.stopPropagation();
            hide();
          }
        }}
        onClick={() => {
          hide();
          returning.current = true;
          onOpen(source);
        }}
        data-testid="citation-chip"
        data-index={source.index}
      >
        {source.index}
      </button>
      {style
        ? createPortal(
            <span
              role="tooltip"
              id={tipId}
              className="citation-tip"
              style={style}
              onMouseEnter={show}
              onMouseLeave={hideSoon}
              data-testid="citation-preview"
            >
              <SourcePreview source={source} />
            </span>,
            document.body,
          )
        : null}
    </sup>
  );
}
