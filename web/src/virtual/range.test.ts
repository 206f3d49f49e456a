import { describe, expect, it } from 'vitest';
import { anchorAt, atBottom, computeOffsets, indexAt, maxScrollTop, scrollTopFor, visibleRange } from './range';

const keys = (n: number) => Array.from({ length: n }, (_, i) => `k${i}`);

describe('computeOffsets', () => {
  it('sums measured heights and estimates the rest', () => {
    const offsets = computeOffsets(['a', 'b', 'c'], new Map([['b', 50]]), 100);
    expect([...offsets]).toEqual([0, 100, 150, 250]);
  });

  it('adds a gap after every item', () => {
    expect([...computeOffsets(['a', 'b'], new Map(), 10, 2)]).toEqual([0, 12, 24]);
  });
});

describe('indexAt', () => {
  const offsets = computeOffsets(keys(4), new Map(), 100);
  it('finds the item containing a position, with exact boundaries belonging to the next item', () => {
    expect(indexAt(offsets, 0)).toBe(0);
    expect(indexAt(offsets, 99.9)).toBe(0);
    expect(indexAt(offsets, 100)).toBe(1);
    expect(indexAt(offsets, 399)).toBe(3);
  });
  it('clamps outside the list', () => {
    expect(indexAt(offsets, -50)).toBe(0);
    expect(indexAt(offsets, 10_000)).toBe(3);
    expect(indexAt(computeOffsets([], new Map(), 100), 5)).toBe(0);
  });
});

describe('visibleRange', () => {
  const offsets = computeOffsets(keys(2000), new Map(), 100);

  it('renders what the viewport shows plus the overscan on both sides', () => {
    expect(visibleRange(offsets, 10_000, 500, 200)).toEqual({ start: 98, end: 107 });
  });

  it('clamps at the top and the bottom', () => {
    expect(visibleRange(offsets, 0, 500, 200)).toEqual({ start: 0, end: 7 });
    const bottom = maxScrollTop(offsets[2000] as number, 500);
    expect(visibleRange(offsets, bottom, 500, 200)).toEqual({ start: 1993, end: 2000 });
  });

  it('does not render an item that only touches the bottom edge', () => {
    expect(visibleRange(offsets, 0, 300, 0)).toEqual({ start: 0, end: 3 });
  });

  it('keeps the rendered count small for a 2,000-item list wherever it is scrolled', () => {
    for (let top = 0; top < 200_000; top += 7_919) {
      const { start, end } = visibleRange(offsets, top, 900, 800);
      expect(end - start).toBeLessThanOrEqual(27);
      expect(start).toBeLessThanOrEqual(Math.floor(top / 100));
    }
  });

  it('handles variable heights', () => {
    const heights = new Map([
      ['k0', 1000],
      ['k1', 10],
      ['k2', 10],
    ]);
    const varied = computeOffsets(keys(5), heights, 100);
    expect(visibleRange(varied, 995, 25, 0)).toEqual({ start: 0, end: 3 });
    expect(visibleRange(varied, 995, 30, 0)).toEqual({ start: 0, end: 4 });
  });

  it('renders the first item of an empty-viewport list and nothing of an empty list', () => {
    expect(visibleRange(computeOffsets([], new Map(), 10), 0, 500, 0)).toEqual({ start: 0, end: 0 });
  });
});

describe('scroll anchoring', () => {
  it('keeps the item under the reader in place when older items are prepended', () => {
    const before = keys(10);
    const offsets = computeOffsets(before, new Map(), 100);
    const anchor = anchorAt(offsets, before, 530);
    expect(anchor).toEqual({ key: 'k5', delta: 30 });
    const after = ['older0', 'older1', 'older2', ...before];
    const grown = computeOffsets(after, new Map([['older1', 250]]), 100);
    // 100 + 250 + 100 = 450 px were added above: the same content is 450 px lower.
    expect(scrollTopFor(grown, after, anchor!)).toBe(980);
  });

  it('compensates for an item above the viewport changing height', () => {
    const list = keys(5);
    const anchor = anchorAt(computeOffsets(list, new Map(), 100), list, 320)!;
    const measured = computeOffsets(list, new Map([['k0', 160]]), 100);
    expect(scrollTopFor(measured, list, anchor)).toBe(380);
  });

  it('reports a vanished anchor', () => {
    expect(scrollTopFor(computeOffsets(['x'], new Map(), 1), ['x'], { key: 'gone', delta: 0 })).toBeNull();
  });

  it('follows output within the slack of the bottom only', () => {
    expect(atBottom(1500, 500, 2000)).toBe(true);
    expect(atBottom(1460, 500, 2000)).toBe(true);
    expect(atBottom(1400, 500, 2000)).toBe(false);
    expect(maxScrollTop(300, 500)).toBe(0);
  });
});
