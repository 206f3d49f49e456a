import { renderToStaticMarkup } from 'react-dom/server';
import { beforeAll, describe, expect, it } from 'vitest';
import { Markdown } from './Markdown';
import { normalizeMathDelimiters } from './math';
import { loadMath } from './mathLoader';

// KaTeX loads lazily in the app; here it is loaded first so rendering is synchronous.
beforeAll(() => loadMath());
import { safeImageUrl, safeLinkUrl } from './safeUrl';

/** Renders model output and parses it back into a DOM to inspect what became live. */
function render(text: string): HTMLElement {
  const html = renderToStaticMarkup(<Markdown text={text} />);
  const root = document.createElement('div');
  root.innerHTML = html;
  return root;
}

function everyAttribute(root: HTMLElement): { name: string; value: string }[] {
  return [...root.querySelectorAll('*')].flatMap((el) => [...el.attributes].map((a) => ({ name: a.name, value: a.value })));
}

describe('Markdown sanitization', () => {
  it('shows a <script> from model output as text, never as an element', () => {
    const root = render('Hello <script>alert("x")</script> world\n\n<script>\nalert(1)\n</script>');
    expect(root.querySelector('script')).toBeNull();
    expect(root.textContent).toContain('<script>alert("x")</script>');
  });

  it('does not turn <img onerror> or inline event handlers into live attributes', () => {
    const root = render('<img src=x onerror="alert(1)">\n\n<div onclick="alert(2)">hi</div>\n\n<a href="javascript:alert(3)">x</a>');
    expect(root.querySelector('img')).toBeNull();
    expect(root.querySelector('[onclick]')).toBeNull();
    expect(everyAttribute(root).some((a) => a.name.startsWith('on'))).toBe(false);
    expect(root.textContent).toContain('onerror');
  });

  it('strips javascript:, vbscript: and data: link targets however they are disguised', () => {
    const links = [
      '[a](javascript:alert(1))',
      '[b](JaVaScRiPt:alert(1))',
      '[c](java&#x09;script:alert(1))',
      '[d](&#106;avascript:alert(1))',
      '[e]( javascript:alert(1))',
      '[f](vbscript:msgbox)',
      '[g](data:text/html;base64,PHNjcmlwdD4=)',
      '<javascript:alert(1)>',
      '[h][ref]\n\n[ref]: javascript:alert(1)',
    ].join('\n\n');
    const root = render(links);
    for (const { name, value } of everyAttribute(root)) {
      if (name === 'href' || name === 'src') {
        expect(value.replace(/[\s\u0000-\u001f]/g, '').toLowerCase()).not.toMatch(/^(javascript|vbscript|data):/);
      }
    }
    expect(root.querySelectorAll('a[href]').length).toBe(0);
  });

  it('keeps http(s) and mailto links live, opening in a new tab without the opener', () => {
    const root = render('[site](https://example.com/a?b=1) and [mail](mailto:a@b.c) and [rel](/chat)');
    const hrefs = [...root.querySelectorAll('a')].map((a) => a.getAttribute('href'));
    expect(hrefs).toEqual(['https://example.com/a?b=1', 'mailto:a@b.c', '/chat']);
    const first = root.querySelector('a');
    expect(first?.getAttribute('target')).toBe('_blank');
    expect(first?.getAttribute('rel')).toContain('noopener');
  });

  it('loads only http(s) images, without a referrer', () => {
    const root = render('![ok](https://example.com/x.png) ![bad](javascript:alert(1)) ![svg](data:image/svg+xml,<svg onload=alert(1)>)');
    const images = [...root.querySelectorAll('img')];
    expect(images.map((i) => i.getAttribute('src'))).toEqual(['https://example.com/x.png']);
    expect(images[0]?.getAttribute('referrerpolicy')).toBe('no-referrer');
  });

  it('does not let KaTeX make links or raw HTML', () => {
    const root = render('$\\href{javascript:alert(1)}{click}$ and $\\htmlData{x=1}{y}$');
    expect(root.querySelector('a[href^="javascript"]')).toBeNull();
    expect(root.querySelector('[data-x]')).toBeNull();
  });
});

describe('Markdown rendering', () => {
  it('renders GFM tables, strikethrough and task lists', () => {
    const root = render('| a | b |\n|---|---|\n| 1 | 2 |\n\n~~old~~\n\n- [x] done');
    expect(root.querySelectorAll('table td').length).toBe(2);
    expect(root.querySelector('del')?.textContent).toBe('old');
    expect(root.querySelector('input[type="checkbox"]')).not.toBeNull();
  });

  it('highlights fenced code of a known language and gives it a copy button', () => {
    const root = render('```rust\nfn main() { let x = 1; }\n```');
    expect(root.querySelector('code.hljs')).not.toBeNull();
    expect(root.querySelector('.hljs-keyword')?.textContent).toBe('fn');
    expect(root.querySelector('[data-testid="code-copy"]')).not.toBeNull();
    expect(root.querySelector('.code-block__lang')?.textContent).toBe('rust');
  });

  it('leaves code of an unknown language plain but intact, HTML in it escaped', () => {
    const root = render('```weird\n<b>x</b>\n```');
    expect(root.querySelector('b')).toBeNull();
    expect(root.querySelector('pre')?.textContent).toContain('<b>x</b>');
  });

  it('keeps dollar amounts as text', () => {
    const root = render('It costs $5 and $10,000 today.');
    expect(root.querySelector('.katex')).toBeNull();
    expect(root.textContent).toBe('It costs $5 and $10,000 today.');
  });

  it('renders inline and display LaTeX with KaTeX, in every delimiter style', () => {
    const root = render('Inline $a^2$ and \\(b_1\\).\n\n$$\\int_0^1 x\\,dx$$\n\n\\[ \\frac{1}{2} \\]');
    expect(root.querySelectorAll('.katex').length).toBe(4);
    expect(root.querySelectorAll('math[display="block"]').length).toBe(2);
  });

  it('renders math as MathML with no inline style, which the page\'s CSP would refuse', () => {
    const root = render('Half root pi: $\\frac{\\sqrt\\pi}{2}$, a sum: $\\sum_{k=1}^n k$.');
    expect(root.querySelectorAll('[style]').length).toBe(0);
    const fraction = root.querySelector('math mfrac');
    expect(fraction?.children.length).toBe(2);
    expect(fraction?.querySelector('msqrt')).not.toBeNull();
    expect(fraction?.children[1]?.textContent).toBe('2');
    const sum = root.querySelector('math munderover, math msubsup');
    expect(sum?.textContent).toContain('k=1');
  });
});

describe('normalizeMathDelimiters', () => {
  it('rewrites bracket delimiters outside code only', () => {
    expect(normalizeMathDelimiters('a \\(x\\) b')).toBe('a $x$ b');
    expect(normalizeMathDelimiters('see \\[y\\] here')).toBe('see \n$$\ny\n$$\n here');
    expect(normalizeMathDelimiters('$$ z $$')).toBe('$$\nz\n$$');
    expect(normalizeMathDelimiters('cost $5 and $6.50.')).toBe('cost \\$5 and \\$6.50.');
    expect(normalizeMathDelimiters('$5x + 3$ and $x$')).toBe('$5x + 3$ and $x$');
    expect(normalizeMathDelimiters('`\\(x\\)` and\n```\n\\[y\\]\n```')).toBe('`\\(x\\)` and\n```\n\\[y\\]\n```');
  });
});

describe('safe URLs', () => {
  it('allows web links and relative ones, refuses script-capable schemes', () => {
    expect(safeLinkUrl('https://a.b')).toBe('https://a.b');
    expect(safeLinkUrl('#x')).toBe('#x');
    expect(safeLinkUrl('/a:b')).toBe('/a:b');
    expect(safeLinkUrl('javascript:alert(1)')).toBe('');
    expect(safeLinkUrl('\u0000java\nscript:alert(1)')).toBe('');
    expect(safeLinkUrl('file:///etc/passwd')).toBe('');
    expect(safeImageUrl('mailto:a@b')).toBe('');
  });
});
