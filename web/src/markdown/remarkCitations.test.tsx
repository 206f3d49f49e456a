import { renderToStaticMarkup } from 'react-dom/server';
import type { Root } from 'mdast';
import { describe, expect, it } from 'vitest';
import { Markdown } from './Markdown';
import { citationIndex, remarkCitations, splitCitations } from './remarkCitations';

const known = new Set([1, 2, 3]);

/** Renders `text` citing sources 1..3, each citation as a <button data-cite="n">. */
function render(text: string, indices: number[] = [1, 2, 3]): HTMLElement {
  const html = renderToStaticMarkup(
    <Markdown text={text} citations={{ indices, render: (n) => <button type="button" data-cite={n}>{n}</button> }} />,
  );
  const root = document.createElement('div');
  root.innerHTML = html;
  return root;
}

const cites = (root: HTMLElement) => [...root.querySelectorAll('[data-cite]')].map((b) => Number(b.getAttribute('data-cite')));

describe('splitCitations', () => {
  it('splits text around the citations of known sources', () => {
    expect(splitCitations('Refunds take 14 days [1].', known)).toEqual(['Refunds take 14 days ', { index: 1, raw: '[1]' }, '.']);
    expect(splitCitations('[2][3]', known)).toEqual([
      { index: 2, raw: '[2]' },
      { index: 3, raw: '[3]' },
    ]);
  });

  it('reads a list of indices as one citation each', () => {
    const pieces = splitCitations('both [1, 3] and [2，3]', known);
    expect(pieces.filter((p) => typeof p !== 'string').map((p) => (p as { index: number }).index)).toEqual([1, 3, 2, 3]);
  });

  it('leaves unknown indices, years and non-numbers as text', () => {
    expect(splitCitations('see [4] and [1, 9]', known)).toEqual(['see [4] and [1, 9]']);
    expect(splitCitations('in [2024], [a], [ 1 ] or [-1]', known)).toEqual(['in [2024], [a], [ 1 ] or [-1]']);
  });
});

describe('remarkCitations', () => {
  it('replaces text nodes only and keeps the original text on the node', () => {
    const tree: Root = {
      type: 'root',
      children: [
        { type: 'paragraph', children: [{ type: 'text', value: 'A [1] B' }, { type: 'inlineCode', value: '[2]' }] },
        { type: 'code', value: 'x = a[1]' },
      ],
    };
    remarkCitations({ indices: [1, 2] })(tree);
    const paragraph = tree.children[0] as { children: { type: string; value?: string; index?: number }[] };
    expect(paragraph.children.map((c) => c.type)).toEqual(['text', 'citation', 'text', 'inlineCode']);
    expect(paragraph.children[1]).toMatchObject({ index: 1, value: '[1]' });
    expect((tree.children[1] as { value: string }).value).toBe('x = a[1]');
  });

  it('does nothing when the reply has no sources', () => {
    const tree: Root = { type: 'root', children: [{ type: 'paragraph', children: [{ type: 'text', value: '[1]' }] }] };
    remarkCitations({ indices: [] })(tree);
    expect((tree.children[0] as { children: { type: string }[] }).children[0]?.type).toBe('text');
  });
});

describe('citations in rendered Markdown', () => {
  it('render [n] of a known source as the given component, inline where it was', () => {
    const root = render('Refunds are paid within 14 days [1]. Shipping is free [2][3].');
    expect(cites(root)).toEqual([1, 2, 3]);
    expect(root.querySelector('p')?.textContent).toBe('Refunds are paid within 14 days 1. Shipping is free 23.');
  });

  it('leave [n] in inline code, code blocks, math and link text alone', () => {
    const root = render('`arr[1]` and [see [2]](https://example.com) and $a[3]$\n\n```python\nx = y[1]\n```');
    expect(cites(root)).toEqual([]);
    expect(root.querySelector('code')?.textContent).toBe('arr[1]');
    expect(root.querySelector('pre')?.textContent).toContain('x = y[1]');
  });

  it('cite inside emphasis, lists and tables', () => {
    const root = render('*stressed [1]*\n\n- item [2]\n\n| a |\n|---|\n| cell [3] |');
    expect(cites(root)).toEqual([1, 2, 3]);
  });

  it('keep [n] as text when the reply has no such source, or no sources at all', () => {
    expect(cites(render('only [7] here'))).toEqual([]);
    expect(render('only [7] here').textContent).toContain('[7]');
    const plain = document.createElement('div');
    plain.innerHTML = renderToStaticMarkup(<Markdown text="plain [1]" />);
    expect(plain.textContent).toBe('plain [1]');
    expect(plain.querySelector('sup')).toBeNull();
  });

  it('never turn a model-written <sup data-citation> into a citation', () => {
    const root = render('<sup data-citation="1">1</sup> and [^1]\n\n[^1]: a footnote');
    expect(cites(root)).toEqual([]);
    expect(root.textContent).toContain('<sup data-citation="1">');
  });
});

describe('citationIndex', () => {
  it('reads a positive integer index from hast properties', () => {
    expect(citationIndex({ dataCitation: 2 })).toBe(2);
    expect(citationIndex({ dataCitation: '3' })).toBe(3);
    expect(citationIndex({ dataCitation: 0 })).toBeNull();
    expect(citationIndex({})).toBeNull();
    expect(citationIndex(undefined)).toBeNull();
  });
});
