// Markdown from models, rendered safely: raw HTML is shown as text (remarkHtmlAsText), URLs
// pass a scheme allowlist (safeUrl), KaTeX runs untrusted (no \href to javascript:, no
// \htmlData). GFM tables, task lists, strikethrough; highlighted code with a copy button.
// Citations `[n]` of a reply's sources become components the caller renders (remarkCitations).

import { memo, useMemo, type ComponentProps, type ReactNode } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import remarkMath from 'remark-math';
import { CodeBlock } from './CodeBlock';
import { rehypeHighlightCode } from './highlight';
import { normalizeMathDelimiters } from './math';
import { mayContainMath, useMathPlugin } from './mathLoader';
import { citationIndex, remarkCitations } from './remarkCitations';
import { remarkHtmlAsText } from './remarkHtmlAsText';
import { markdownUrlTransform } from './safeUrl';

type RemarkPlugins = NonNullable<ComponentProps<typeof ReactMarkdown>['remarkPlugins']>;

const remarkPlugins: RemarkPlugins = [remarkGfm, [remarkMath, { singleDollarTextMath: true }], remarkHtmlAsText];

/** The sources a text may cite, and how one citation renders. */
export interface Citations {
  indices: readonly number[];
  render: (index: number) => ReactNode;
}

type Plugins = NonNullable<ComponentProps<typeof ReactMarkdown>['rehypePlugins']>;

// MathML only: KaTeX's HTML output positions every glyph with inline `style` attributes, which
// our Content-Security-Policy (`style-src 'self'`) refuses, losing denominators and limits. Those
// styles differ per formula, so no hash or nonce can allow them without allowing any inline
// style; the browser's own MathML renderer needs none (and no KaTeX CSS or fonts).
const KATEX_OPTIONS = { throwOnError: false, strict: 'ignore', trust: false, maxExpand: 500, maxSize: 50, output: 'mathml' } as const;
const PLAIN_PLUGINS: Plugins = [rehypeHighlightCode];

const components: Components = {
  a: ({ node: _node, href, children, ...rest }) =>
    href ? (
      <a {...rest} href={href} target="_blank" rel="noopener noreferrer nofollow">
        {children}
      </a>
    ) : (
      <span className="md-dead-link">{children}</span>
    ),
  img: ({ node: _node, src, alt, ...rest }) =>
    src ? <img {...rest} src={src} alt={alt ?? ''} loading="lazy" referrerPolicy="no-referrer" /> : <span>{alt}</span>,
  pre: ({ node, children }) => <CodeBlock node={node}>{children}</CodeBlock>,
  table: ({ node: _node, children, ...rest }) => (
    <div className="md-table">
      <table {...rest}>{children}</table>
    </div>
  ),
};

export const Markdown = memo(function Markdown({ text, citations }: { text: string; citations?: Citations | undefined }) {
  const katex = useMathPlugin(mayContainMath(text));
  const rehypePlugins = useMemo<Plugins>(() => (katex ? [[katex, KATEX_OPTIONS], rehypeHighlightCode] : PLAIN_PLUGINS), [katex]);
  const cited = citations && citations.indices.length > 0 ? citations : undefined;
  const remark = useMemo<RemarkPlugins>(
    () => (cited ? [...remarkPlugins, [remarkCitations, { indices: cited.indices }]] : remarkPlugins),
    [cited],
  );
  const rendered = useMemo<Components>(() => {
    if (!cited) return components;
    return {
      ...components,
      // Citations arrive as <sup data-citation>; any other <sup> (a GFM footnote) stays one.
      sup: ({ node, children, ...rest }) => {
        const index = citationIndex(node?.properties);
        return index !== null ? <>{cited.render(index)}</> : <sup {...rest}>{children}</sup>;
      },
    };
  }, [cited]);
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={remark}
        rehypePlugins={rehypePlugins}
        components={rendered}
        urlTransform={markdownUrlTransform}
      >
        {normalizeMathDelimiters(text)}
      </ReactMarkdown>
    </div>
  );
});
