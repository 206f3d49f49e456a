// Markdown from models, rendered safely: raw HTML is shown as text (remarkHtmlAsText), URLs
// pass a scheme allowlist (safeUrl), KaTeX runs untrusted (no \href to javascript:, no
// \htmlData). GFM tables, task lists, strikethrough; highlighted code with a copy button.

import { memo, useMemo, type ComponentProps } from 'react';
import ReactMarkdown, { type Components } from 'react-markdown';
import remarkGfm from 'remark-gfm';
import remarkMath from 'remark-math';
import { CodeBlock } from './CodeBlock';
import { rehypeHighlightCode } from './highlight';
import { normalizeMathDelimiters } from './math';
import { mayContainMath, useMathPlugin } from './mathLoader';
import { remarkHtmlAsText } from './remarkHtmlAsText';
import { markdownUrlTransform } from './safeUrl';

const remarkPlugins: ComponentProps<typeof ReactMarkdown>['remarkPlugins'] = [
  remarkGfm,
  [remarkMath, { singleDollarTextMath: true }],
  remarkHtmlAsText,
];

type Plugins = NonNullable<ComponentProps<typeof ReactMarkdown>['rehypePlugins']>;

const KATEX_OPTIONS = { throwOnError: false, strict: 'ignore', trust: false, maxExpand: 500, maxSize: 50, output: 'htmlAndMathml' } as const;
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

export const Markdown = memo(function Markdown({ text }: { text: string }) {
  const katex = useMathPlugin(mayContainMath(text));
  const rehypePlugins = useMemo<Plugins>(() => (katex ? [[katex, KATEX_OPTIONS], rehypeHighlightCode] : PLAIN_PLUGINS), [katex]);
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={remarkPlugins}
        rehypePlugins={rehypePlugins}
        components={components}
        urlTransform={markdownUrlTransform}
      >
        {normalizeMathDelimiters(text)}
      </ReactMarkdown>
    </div>
  );
});
