import { describe, expect, it } from 'vitest';
import { formatBytes, formatMoney, formatTokens, microsToDecimal } from './format';

describe('formatMoney', () => {
  it('keeps tiny costs exact and pads balances to two decimals', () => {
    expect(formatMoney('0.000123', 'USD')).toBe('$0.000123');
    expect(formatMoney('5.000000', 'USD')).toBe('$5.00');
    expect(formatMoney('1234567.5', 'USD')).toBe('$1,234,567.50');
    expect(formatMoney('-2.5', 'EUR')).toBe('-€2.50');
    expect(formatMoney('3', 'CHF')).toBe('3.00 CHF');
    expect(formatMoney(null, 'USD')).toBe('—');
  });

  it('never goes through floating point', () => {
    expect(formatMoney('0.1000000000000000055511', 'USD')).toBe('$0.1000000000000000055511');
  });
});

describe('microsToDecimal', () => {
  it('converts integer micro-units', () => {
    expect(microsToDecimal(1_234_567)).toBe('1.234567');
    expect(microsToDecimal(12)).toBe('0.000012');
    expect(microsToDecimal(-5)).toBe('-0.000005');
  });
});

describe('formatTokens', () => {
  it('abbreviates large counts', () => {
    expect(formatTokens(999)).toBe('999');
    expect(formatTokens(1500)).toBe('1.5k');
    expect(formatTokens(25_000)).toBe('25k');
    expect(formatTokens(3_200_000)).toBe('3.2M');
  });
});

describe('formatBytes', () => {
  it('shows sizes in 1024-based units with one decimal below ten', () => {
    expect(formatBytes(812)).toBe('812 B');
    expect(formatBytes(4300)).toBe('4.2 KB');
    expect(formatBytes(13 * 1024 * 1024)).toBe('13 MB');
    expect(formatBytes(-1)).toBe('—');
    expect(formatBytes(null)).toBe('—');
  });
});
