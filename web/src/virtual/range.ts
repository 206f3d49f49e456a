// The arithmetic of the virtualized list, kept pure: item offsets from measured (or
// estimated) heights, which items intersect the viewport plus overscan, and the scroll anchor
// that keeps what the reader looks at in place when items above it grow or are prepended.

/** Prefix sums: offsets[i] is the top of item i, offsets[n] the total height. */
export function computeOffsets(
  keys: readonly string[],
  heights: ReadonlyMap<string, number>,
  estimate: number,
  gap = 0,
): Float64Array {
  const offsets = new Float64Array(keys.length + 1);
  for (let i = 0; i < keys.length; i++) {
    const height = heights.get(keys[i] as string) ?? estimate;
    offsets[i + 1] = (offsets[i] as number) + height + gap;
  }
  return offsets;
}

/** The item containing `y` (clamped to the list), by binary search. */
export function indexAt(offsets: Float64Array, y: number): number {
  const count = offsets.length - 1;
  if (count <= 0) return 0;
  if (y <= 0) return 0;
  if (y >= (offsets[count] as number)) return count - 1;
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((offsets[mid] as number) <= y) low = mid;
    else high = mid - 1;
  }
  return low;
}

export interface Range {
  /** First rendered index. */
  start: number;
  /** One past the last rendered index. */
  end: number;
}

/** Items intersecting [scrollTop - overscan, scrollTop + viewport + overscan). */
export function visibleRange(offsets: Float64Array, scrollTop: number, viewport: number, overscan: number): Range {
  const count = offsets.length - 1;
  if (count <= 0 || viewport <= 0) return { start: 0, end: Math.min(count, 1) };
  const top = Math.max(0, scrollTop - overscan);
  const bottom = scrollTop + viewport + overscan;
  const start = indexAt(offsets, top);
  let end = indexAt(offsets, bottom) + 1;
  // An item that starts exactly at `bottom` is not visible.
  if (end - 1 > start && (offsets[end - 1] as number) >= bottom) end -= 1;
  return { start, end: Math.min(end, count) };
}

export interface Anchor {
  key: string;
  /** scrollTop minus the anchor item's top. */
  delta: number;
}

/** The item at the top edge of the viewport and how far into it we are scrolled. */
export function anchorAt(offsets: Float64Array, keys: readonly string[], scrollTop: number): Anchor | null {
  if (keys.length === 0) return null;
  const index = indexAt(offsets, scrollTop);
  const key = keys[index];
  if (key === undefined) return null;
  return { key, delta: scrollTop - (offsets[index] as number) };
}

/** The scrollTop that puts the anchor back where it was, or null when it is gone. */
export function scrollTopFor(offsets: Float64Array, keys: readonly string[], anchor: Anchor): number | null {
  const index = keys.indexOf(anchor.key);
  if (index === -1) return null;
  return (offsets[index] as number) + anchor.delta;
}

/** Whether the reader is (within `slack` px of) the bottom, i.e. following new output. */
export function atBottom(scrollTop: number, viewport: number, total: number, slack = 48): boolean {
  return total - (scrollTop + viewport) <= slack;
}

/** The largest scrollTop possible. */
export function maxScrollTop(total: number, viewport: number): number {
  return Math.max(0, total - viewport);
}
