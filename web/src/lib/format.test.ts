import { describe, expect, it } from 'vitest';
import { formatBytes, formatMoney, formatTokens, microsToDecimal } from './format';

describe('formatMoney', () => {
  it('keeps tiny costs readable and pads balances to two decimals', () => {
    expect(formatMoney('0.000123', 'USD')).toBe('$0.000123');
    expect(formatMoney('5.000000', 'USD')).toBe('$5.00');
    expect(formatMoney('1234567.5', 'USD')).toBe('$1,234,567.50');
    expect(formatMoney('-2.5', 'EUR')).toBe('-€2.50');
    expect(formatMoney('3', 'CHF')).toBe('3.00 CHF');
    expect(formatMoney(null, 'USD')).toBe('—');
  });

  it('rounds by magnitude: two decimals from one unit, four significant digits below', () => {
    expect(formatMoney('4.999877', 'USD')).toBe('$5.00');
    expect(formatMoney('4.994999', 'USD')).toBe('$4.99');
    expect(formatMoney('999.995', 'USD')).toBe('$1,000.00');
    expect(formatMoney('0.123456', 'USD')).toBe('$0.1235');
    expect(formatMoney('0.99996', 'USD')).toBe('$1.00');
    expect(formatMoney('-0.0000004', 'USD')).toBe('-$0.0000004');
    expect(formatMoney('0.000000', 'USD')).toBe('$0.00');
  });

  it('never goes through floating point', () => {
    expect(formatMoney('0.1000000000000000055511', 'USD')).toBe('$0.10');
    expect(formatMoney('12345678901234567.895', 'USD')).toBe('$12,345,678,901,234,567.90');
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
