// Display formatting for money (decimal strings, never floats), token counts and times.

const SYMBOLS: Record<string, string> = { USD: '$', EUR: '€', CNY: '¥', GBP: '£', JPY: '¥' };

/** Significant digits kept for amounts under one unit (a reply's cost). */
const SMALL_AMOUNT_DIGITS = 4;

/**
 * A decimal string as money, by magnitude: from one unit up, two decimals (a balance of
 * `4.999877` reads `5.00`); below, four significant digits (`0.000123`, `0.1235`), so a tiny
 * per-answer cost stays readable. Rounded half up on the decimal digits, never through a float.
 */
export function formatMoney(amount: string | null | undefined, currency?: string | null): string {
  if (amount === null || amount === undefined || amount === '') return '—';
  const match = /^(-?)(\d*)(?:\.(\d*))?$/.exec(amount.trim());
  if (!match) return amount;
  const [, sign = '', digits = '0', rawFraction = ''] = match;
  const trimmedWhole = digits.replace(/^0+(?=\d)/, '') || '0';
  const firstSignificant = rawFraction.search(/[1-9]/);
  const keep = trimmedWhole !== '0' || firstSignificant < 0 ? 2 : firstSignificant + SMALL_AMOUNT_DIGITS;
  const [whole, fraction] = roundDecimal(trimmedWhole, rawFraction, keep);
  let decimals = fraction.replace(/0+$/, '');
  if (decimals.length < 2) decimals = decimals.padEnd(2, '0');
  const integer = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const symbol = currency ? SYMBOLS[currency] : undefined;
  const number = `${integer}.${decimals}`;
  if (symbol) return `${sign}${symbol}${number}`;
  return currency ? `${sign}${number} ${currency}` : `${sign}${number}`;
}

/** `whole.fraction` rounded half up to `keep` decimals, as digit strings (carrying into `whole`). */
function roundDecimal(whole: string, fraction: string, keep: number): [string, string] {
  if (fraction.length <= keep) return [whole, fraction];
  const kept = fraction.slice(0, keep);
  if (fraction.charAt(keep) < '5') return [whole, kept];
  const digits = (whole + kept).split('').map(Number);
  let i = digits.length - 1;
  while (i >= 0 && digits[i] === 9) {
    digits[i] = 0;
    i -= 1;
  }
  if (i >= 0) digits[i] = (digits[i] ?? 0) + 1;
  const all = (i < 0 ? '1' : '') + digits.join('');
  return [all.slice(0, all.length - keep), all.slice(all.length - keep)];
}

/** Integer micro-units (request logs) as a decimal string. */
export function microsToDecimal(micros: number): string {
  const sign = micros < 0 ? '-' : '';
  const abs = Math.abs(Math.trunc(micros));
  const whole = Math.floor(abs / 1_000_000);
  const fraction = String(abs % 1_000_000).padStart(6, '0');
  return `${sign}${whole}.${fraction}`;
}

export function formatTokens(count: number | null | undefined): string {
  if (count === null || count === undefined) return '—';
  if (count < 1000) return String(count);
  if (count < 1_000_000) return `${(count / 1000).toFixed(count < 10_000 ? 1 : 0)}k`;
  return `${(count / 1_000_000).toFixed(1)}M`;
}

export function formatDateTime(ms: number | null | undefined, language: string): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleString(language, { dateStyle: 'medium', timeStyle: 'short' });
}

export function formatDate(ms: number | null | undefined, language: string): string {
  if (!ms) return '—';
  return new Date(ms).toLocaleDateString(language, { dateStyle: 'medium' });
}

/** "5 min ago" style, falling back to a date after a week. */
export function formatRelative(ms: number, language: string, now = Date.now()): string {
  const seconds = Math.round((ms - now) / 1000);
  const abs = Math.abs(seconds);
  const rtf = new Intl.RelativeTimeFormat(language, { numeric: 'auto' });
  if (abs < 60) return rtf.format(seconds, 'second');
  if (abs < 3600) return rtf.format(Math.round(seconds / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(seconds / 3600), 'hour');
  if (abs < 7 * 86400) return rtf.format(Math.round(seconds / 86400), 'day');
  return formatDate(ms, language);
}

export function formatTime(ms: number, language: string): string {
  return new Date(ms).toLocaleTimeString(language, { hour: '2-digit', minute: '2-digit' });
}

/** A file size: "812 B", "4.2 KB", "13 MB" (1024-based, as file managers show them). */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
