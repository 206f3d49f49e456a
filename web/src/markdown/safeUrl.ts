// Which URLs from model output may become live links or images. An allowlist of schemes: a
// model (or a prompt injection it repeats) can write `javascript:`, `data:` or `vbscript:` links,
// often disguised with case, entities, whitespace or control characters that browsers ignore.

const LINK_SCHEMES = new Set(['http', 'https', 'mailto']);
const IMAGE_SCHEMES = new Set(['http', 'https']);

function scheme(url: string): string | null {
  // Browsers drop ASCII whitespace and control characters inside a scheme (`java\tscript:`),
  // so strip them before looking.
  const squeezed = url.replace(/[\u0000-\u0020\u007f-\u009f]/g, '');
  const match = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(squeezed);
  if (!match) return null;
  // A colon after `/`, `?` or `#` is part of a relative URL (`/a:b`), not a scheme.
  return (match[1] as string).toLowerCase();
}

function decoded(url: string): string {
  try {
    return decodeURIComponent(url);
  } catch {
    return url;
  }
}

function allowed(url: string, schemes: Set<string>): string {
  // Markdown percent-encodes odd characters (`java%09script:`); judge the decoded form too.
  const found = scheme(url) ?? scheme(decoded(url));
  if (found === null) {
    // Relative: fine unless it is protocol-relative to a host we cannot vet the scheme of
    // (`//evil` is still http(s), which we allow anyway).
    return url;
  }
  return schemes.has(found) ? url : '';
}

/** A link target from model output, or '' when it must not be live. */
export function safeLinkUrl(url: string): string {
  return allowed(url, LINK_SCHEMES);
}

/** An image source from model output, or '' when it must not load. */
export function safeImageUrl(url: string): string {
  return allowed(url, IMAGE_SCHEMES);
}

/** react-markdown's urlTransform: images get the stricter list. */
export function markdownUrlTransform(url: string, key: string, node: { tagName?: string }): string {
  if (node.tagName === 'img' && key === 'src') return safeImageUrl(url);
  return safeLinkUrl(url);
}
