import { describe, expect, it } from 'vitest';
import { splitMatches } from './matches';

const marked = (text: string, query: string) =>
  splitMatches(text, query)
    .map((p) => (p.match ? `[${p.text}]` : p.text))
    .join('');

describe('splitMatches', () => {
  it('marks every occurrence, whatever its case, and keeps the original text', () => {
    expect(marked('Quokkas live where quokkas LIVE', 'live')).toBe('Quokkas [live] where quokkas [LIVE]');
    expect(splitMatches('abcabc', 'BC')).toEqual([
      { text: 'a', match: false },
      { text: 'bc', match: true },
      { text: 'a', match: false },
      { text: 'bc', match: true },
    ]);
  });

  it('marks matches at the edges and a text that is all match', () => {
    expect(marked('needle in a haystack needle', 'needle')).toBe('[needle] in a haystack [needle]');
    expect(splitMatches('Hi', 'hi')).toEqual([{ text: 'Hi', match: true }]);
  });

  it('takes the query literally: regular-expression characters are text', () => {
    expect(marked('costs $5.00 (or 5x00)', '5.00')).toBe('costs $[5.00] (or 5x00)');
    expect(marked('a+b and a.b', 'a+b')).toBe('[a+b] and a.b');
    expect(marked('[1] (2) *3*', '(2)')).toBe('[1] [(2)] *3*');
  });

  it('trims the query like the server does, and marks nothing for a blank one', () => {
    expect(marked('one two', '  two ')).toBe('one [two]');
    expect(splitMatches('one two', '   ')).toEqual([{ text: 'one two', match: false }]);
    expect(splitMatches('', 'x')).toEqual([]);
  });

  it('finds Chinese text and keeps positions of characters outside the basic plane', () => {
    expect(marked('汉字很多的一段话', '一段')).toBe('汉字很多的[一段]话');
    expect(marked('😀 smile 😀 Smile', 'smile')).toBe('😀 [smile] 😀 [Smile]');
  });

  it('returns the snippet unchanged when the match was cut off', () => {
    expect(marked('…ending with needl', 'needle')).toBe('…ending with needl');
  });
});
