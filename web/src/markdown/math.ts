// Models write LaTeX as `\( … \)` and `\[ … \]` as often as `$ … $`; remark-math reads only
// dollars. Rewrite the bracket forms outside code so both render.

/**
 * Converts `\(x\)` to `$x$` and `\[x\]` to display `$$` blocks, and puts a `$$x$$` that fills
 * a line on lines of its own (remark-math treats single-line `$$x$$` as inline), leaving fenced
 * and inline code alone. A `$` before a plain amount (`$5`) is escaped so prices stay text.
 */
export function normalizeMathDelimiters(text: string): string {
  if (!text.includes('\\(') && !text.includes('\\[') && !text.includes('$')) return text;
  // Split into code (kept verbatim) and prose. Fences first, then inline code spans.
  const parts = text.split(/(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)/g);
  return parts
    .map((part, i) => {
      if (i % 2 === 1) return part;
      return part
        .replace(/\\\[([\s\S]+?)\\\]/g, (_m, body: string) => `\n$$\n${body.trim()}\n$$\n`)
        .replace(/^[ \t]*\$\$([^\n$]+?)\$\$[ \t]*$/gm, (_m, body: string) => `$$\n${body.trim()}\n$$`)
        .replace(/\\\(([\s\S]+?)\\\)/g, (_m, body: string) => `$${body}$`)
        // `$5 and $6` is money, not math: escape a `$` that starts a plain amount.
        .replace(/(^|[^\\$])\$(?=\d[\d,]*(?:\.\d+)?(?:[\s.,;:!?)\]]|$))/gm, '$1\\$');
    })
    .join('');
}
