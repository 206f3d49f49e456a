// A session/agent avatar: an emoji (or a short text) on a tinted disc. Image URLs from
// catalog agents are shown only when they are http(s).

import { safeImageUrl } from '../markdown/safeUrl';

export function Avatar({ value, size = 32, label }: { value: string | null | undefined; size?: number; label?: string }) {
  const text = (value ?? '').trim();
  const isImage = /^https?:\/\//i.test(text) && safeImageUrl(text) !== '';
  return (
    <span
      className="avatar"
      style={{ width: size, height: size, fontSize: Math.round(size * 0.55) }}
      aria-hidden={label ? undefined : true}
      aria-label={label}
      role={label ? 'img' : undefined}
    >
      {isImage ? <img src={text} alt="" referrerPolicy="no-referrer" /> : text ? [...text].slice(0, 2).join('') : '🤖'}
    </span>
  );
}
