import { describe, expect, it } from 'vitest';
import type { Source } from '../api/types';
import { formatScore, sourceFileName, sourceIndices, sourceLocation } from './sources';

const source = (extra: Partial<Source>): Source => ({ index: 1, title: 'handbook.md — Handbook > Refunds', url: null, snippet: '', ...extra });

describe('source display', () => {
  it('takes the file name out of "file — heading" titles', () => {
    expect(sourceFileName(source({ heading: 'Handbook > Refunds' }))).toBe('handbook.md');
    expect(sourceFileName(source({ title: 'notes.txt', heading: '' }))).toBe('notes.txt');
    // An older record without a heading keeps its whole title.
    expect(sourceFileName(source({}))).toBe('handbook.md — Handbook > Refunds');
  });

  it('gives heading and page only when known', () => {
    expect(sourceLocation(source({ heading: ' A > B ', page: 3 }))).toEqual({ heading: 'A > B', page: 3 });
    expect(sourceLocation(source({ heading: '', page: null }))).toEqual({ heading: null, page: null });
  });

  it('formats scores to two decimals and tolerates none', () => {
    expect(formatScore(0.8234)).toBe('0.82');
    expect(formatScore(null)).toBeNull();
    expect(formatScore(undefined)).toBeNull();
    expect(formatScore(Number.NaN)).toBeNull();
  });

  it('lists the indices a reply may cite', () => {
    expect(sourceIndices([source({ index: 1 }), source({ index: 2 })])).toEqual([1, 2]);
    expect(sourceIndices(undefined)).toEqual([]);
  });
});
