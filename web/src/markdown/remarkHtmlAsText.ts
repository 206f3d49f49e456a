// Raw HTML in model output is shown as the text it is, never parsed: `<script>` or
// `<img onerror>` written by a model stays visible and inert. (react-markdown would drop it
// silently; showing it is more honest when a model writes about HTML.)

import type { Root } from 'mdast';
import { visit } from 'unist-util-visit';

export function remarkHtmlAsText() {
  return (tree: Root) => {
    visit(tree, 'html', (node, index, parent) => {
      if (!parent || index === undefined) return;
      parent.children[index] = { type: 'text', value: node.value, ...(node.position ? { position: node.position } : {}) };
    });
  };
}
