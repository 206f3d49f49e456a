// A virtualized vertical list for chat: only items near the viewport are in the DOM, heights
// are measured with ResizeObserver (estimates until then), the view follows new output while
// the reader is at the bottom, and an anchor keeps the item under the reader's eye in place when
// older pages are prepended or items above it change height. Range math lives in range.ts.

import {
  forwardRef,
  useCallback,
  useEffect,
  useImperativeHandle,
  useLayoutEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
  type Ref,
} from 'react';
import { anchorAt, atBottom, computeOffsets, maxScrollTop, scrollTopFor, visibleRange, type Anchor } from './range';

export interface VirtualListHandle {
  scrollToBottom(): void;
  /** Scrolls the item with this key to the top; false when it is not in the list. */
  scrollToKey(key: string): boolean;
}

export interface VirtualListProps<T> {
  items: readonly T[];
  itemKey: (item: T) => string;
  renderItem: (item: T, index: number) => ReactNode;
  estimateHeight?: number;
  /** Pixels rendered beyond each edge of the viewport. */
  overscan?: number;
  /** Called when the reader is within `nearTopPx` of the top (load older). */
  onNearTop?: () => void;
  nearTopPx?: number;
  /** Whether the reader follows new output (is at the bottom). */
  onFollowChange?: (following: boolean) => void;
  className?: string;
  ariaLabel?: string;
  testId?: string;
  /** Extra space under the last item. */
  paddingBottom?: number;
}

function VirtualListInner<T>(props: VirtualListProps<T>, ref: Ref<VirtualListHandle>) {
  const {
    items,
    itemKey,
    renderItem,
    estimateHeight = 120,
    overscan = 800,
    onNearTop,
    nearTopPx = 600,
    onFollowChange,
    className,
    ariaLabel,
    testId,
    paddingBottom = 0,
  } = props;
  const scrollRef = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>());
  const [measured, setMeasured] = useState(0);
  const [scrollTop, setScrollTop] = useState(0);
  const [viewport, setViewport] = useState(0);
  const following = useRef(true);
  const anchor = useRef<Anchor | null>(null);

  const keys = useMemo(() => items.map(itemKey), [items, itemKey]);
  // `measured` is a version counter: heights live in a ref so measuring does not copy the map.
  const offsets = useMemo(
    () => computeOffsets(keys, heights.current, estimateHeight),
    [keys, measured, estimateHeight],
  );
  const total = (offsets[keys.length] ?? 0) + paddingBottom;
  const range = visibleRange(offsets, scrollTop, viewport || 800, overscan);

  const latest = useRef({ offsets, keys, total });
  latest.current = { offsets, keys, total };

  const itemObserver = useMemo(() => {
    if (typeof ResizeObserver === 'undefined') return null;
    return new ResizeObserver((entries) => {
      let changed = false;
      for (const entry of entries) {
        const element = entry.target as HTMLElement;
        const key = element.dataset.vkey;
        if (!key) continue;
        const height = entry.borderBoxSize?.[0]?.blockSize ?? element.getBoundingClientRect().height;
        if (height > 0 && Math.abs((heights.current.get(key) ?? -1) - height) >= 0.5) {
          heights.current.set(key, height);
          changed = true;
        }
      }
      if (changed) setMeasured((v) => v + 1);
    });
  }, []);
  useEffect(() => () => itemObserver?.disconnect(), [itemObserver]);

  // One stable ref callback per key, so re-renders do not re-observe every item.
  const measureRefs = useRef(new Map<string, (element: HTMLDivElement | null) => void>());
  const measureRef = useCallback(
    (key: string) => {
      let callback = measureRefs.current.get(key);
      if (!callback) {
        let observed: HTMLDivElement | null = null;
        callback = (element) => {
          if (observed && itemObserver) itemObserver.unobserve(observed);
          observed = element;
          if (element && itemObserver) itemObserver.observe(element);
          if (!element) measureRefs.current.delete(key);
        };
        measureRefs.current.set(key, callback);
      }
      return callback;
    },
    [itemObserver],
  );

  // The viewport's own height.
  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!element) return;
    setViewport(element.clientHeight);
    if (typeof ResizeObserver === 'undefined') return;
    const observer = new ResizeObserver(() => setViewport(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  // What the anchor was computed from: the scroll position and the layout at that moment. A
  // scroll can land between a measurement and its commit; the anchor must then be re-read in the
  // layout the reader scrolled in, or the restore below would undo their scroll.
  const recorded = useRef<{ top: number; offsets: Float64Array; keys: readonly string[]; total: number } | null>(null);

  const record = (top: number, o: Float64Array, k: readonly string[], t: number) => {
    anchor.current = anchorAt(o, k, top);
    recorded.current = { top, offsets: o, keys: k, total: t };
  };

  // After every layout change: follow the bottom, or put the anchor back where it was.
  useLayoutEffect(() => {
    const element = scrollRef.current;
    if (!element) return;
    const height = element.clientHeight || viewport;
    const before = recorded.current;
    if (before && Math.abs(element.scrollTop - before.top) > 1) {
      following.current = atBottom(element.scrollTop, height, before.total);
      anchor.current = anchorAt(before.offsets, before.keys, element.scrollTop);
    }
    let target: number | null = null;
    if (following.current) target = maxScrollTop(total, height);
    else if (anchor.current) target = scrollTopFor(offsets, keys, anchor.current);
    if (target !== null && Math.abs(element.scrollTop - target) > 1) element.scrollTop = target;
    record(element.scrollTop, offsets, keys, total);
    if (Math.abs(element.scrollTop - scrollTop) > 1) setScrollTop(element.scrollTop);
    // Only layout changes run this; scrolling itself is handled by onScroll.
  }, [offsets, total, viewport]);

  const onScroll = useCallback(() => {
    const element = scrollRef.current;
    if (!element) return;
    const { offsets: o, keys: k, total: t } = latest.current;
    const top = element.scrollTop;
    const follow = atBottom(top, element.clientHeight, t);
    if (follow !== following.current) {
      following.current = follow;
      onFollowChange?.(follow);
    }
    record(top, o, k, t);
    setScrollTop(top);
  }, [onFollowChange]);

  useEffect(() => {
    // Read the element, not state: the first layout pass may have just scrolled to the bottom.
    const element = scrollRef.current;
    if (onNearTop && element && element.scrollTop < nearTopPx && keys.length > 0) onNearTop();
  }, [scrollTop, nearTopPx, onNearTop, keys.length, total]);

  useImperativeHandle(
    ref,
    () => ({
      scrollToBottom() {
        const element = scrollRef.current;
        if (!element) return;
        following.current = true;
        onFollowChange?.(true);
        element.scrollTop = maxScrollTop(latest.current.total, element.clientHeight);
        record(element.scrollTop, latest.current.offsets, latest.current.keys, latest.current.total);
      },
      scrollToKey(key) {
        const element = scrollRef.current;
        const index = latest.current.keys.indexOf(key);
        if (!element || index === -1) return false;
        following.current = false;
        onFollowChange?.(false);
        const top = latest.current.offsets[index] ?? 0;
        element.scrollTop = top;
        record(element.scrollTop, latest.current.offsets, latest.current.keys, latest.current.total);
        setScrollTop(top);
        return true;
      },
    }),
    [onFollowChange],
  );

  const rendered: ReactNode[] = [];
  for (let i = range.start; i < range.end; i++) {
    const item = items[i] as T;
    const key = keys[i] as string;
    rendered.push(
      <div
        key={key}
        ref={measureRef(key)}
        data-vkey={key}
        data-index={i}
        className="vlist__item"
        style={{ transform: `translateY(${offsets[i] ?? 0}px)` }}
      >
        {renderItem(item, i)}
      </div>,
    );
  }

  return (
    <div
      ref={scrollRef}
      className={className ? `vlist ${className}` : 'vlist'}
      onScroll={onScroll}
      role="log"
      aria-label={ariaLabel}
      aria-live="polite"
      aria-relevant="additions"
      tabIndex={0}
      data-testid={testId}
    >
      <div className="vlist__canvas" style={{ height: total }}>
        {rendered}
      </div>
    </div>
  );
}

export const VirtualList = forwardRef(VirtualListInner) as <T>(
  props: VirtualListProps<T> & { ref?: Ref<VirtualListHandle> },
) => ReturnType<typeof VirtualListInner>;
