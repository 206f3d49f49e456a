// Syntax highlighting for fenced code: lowlight (highlight.js grammars producing a syntax tree,
// so nothing goes through innerHTML) with the handful of languages chat answers mostly use.
// Unknown languages stay plain; auto-detection would cost every render.

import type { Element, ElementContent, Root } from 'hast';
import { createLowlight } from 'lowlight';
import { visit } from 'unist-util-visit';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import shell from 'highlight.js/lib/languages/shell';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const lowlight = createLowlight({
  bash,
  c,
  cpp,
  css,
  diff,
  go,
  java,
  javascript,
  json,
  markdown,
  python,
  rust,
  shell,
  sql,
  typescript,
  xml,
  yaml,
});
lowlight.registerAlias({
  bash: ['sh', 'zsh'],
  javascript: ['js', 'jsx', 'mjs'],
  typescript: ['ts', 'tsx'],
  python: ['py'],
  rust: ['rs'],
  xml: ['html', 'svg'],
  yaml: ['yml'],
  markdown: ['md'],
  cpp: ['c++', 'hpp', 'cc'],
  shell: ['console'],
});

/** The language named by a `language-xxx` class, if any. */
export function codeLanguage(node: Element): string | undefined {
  const classes: unknown = node.properties?.className;
  const list: unknown[] = Array.isArray(classes) ? classes : typeof classes === 'string' ? classes.split(' ') : [];
  for (const name of list) {
    const text = String(name);
    if (text.startsWith('language-')) return text.slice('language-'.length).toLowerCase();
  }
  return undefined;
}

export function hastText(node: ElementContent | Element): string {
  if (node.type === 'text') return node.value;
  if (node.type === 'element') return node.children.map(hastText).join('');
  return '';
}

/** A rehype plugin: highlights `pre > code.language-xxx` when the language is registered. */
export function rehypeHighlightCode() {
  return (tree: Root) => {
    visit(tree, 'element', (node, _index, parent) => {
      if (node.tagName !== 'code' || !parent || parent.type !== 'element' || parent.tagName !== 'pre') return;
      const language = codeLanguage(node);
      if (!language || !lowlight.registered(language)) return;
      const result = lowlight.highlight(language, hastText(node));
      node.children = result.children as ElementContent[];
      const classes = node.properties.className;
      node.properties.className = [...(Array.isArray(classes) ? classes : []), 'hljs'];
    });
  };
}
