// KaTeX is a third of the bundle and most answers have no math, so it loads on first use:
// a message containing math delimiters renders as text until rehype-katex arrives, then every
// such message re-renders with formulas (MathML, which the browser draws: no KaTeX CSS or fonts).

import { useEffect, useSyncExternalStore } from 'react';

type RehypeKatex = (typeof import('rehype-katex'))['default'];

let plugin: RehypeKatex | null = null;
let loading: Promise<void> | null = null;
const listeners = new Set<() => void>();

export function loadMath(): Promise<void> {
  loading ??= import('rehype-katex').then((module) => {
    plugin = module.default;
    listeners.forEach((listener) => listener());
  });
  return loading;
}

/** Whether text may contain LaTeX (cheap; false positives only cost the load). */
export function mayContainMath(text: string): boolean {
  return text.includes('$') || text.includes('\\(') || text.includes('\\[');
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The rehype-katex plugin once loaded and when this text needs it, else null. */
export function useMathPlugin(needed: boolean): RehypeKatex | null {
  const ready = useSyncExternalStore(subscribe, () => plugin, () => plugin);
  useEffect(() => {
    if (needed && !plugin) loadMath().catch(() => undefined);
  }, [needed]);
  return needed ? ready : null;
}
