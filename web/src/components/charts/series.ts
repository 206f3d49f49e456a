// Turns `/admin/stats?group_by=day` rows (ordered by cost, days without traffic missing) into
// a continuous daily series for the line chart.

import type { UsageRow } from '../../api/types';

const DAY = 86_400_000;

function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** One point per UTC day in [from, to), zero where no row exists. */
export function dailySeries(rows: readonly UsageRow[], from: number, to: number, value: (row: UsageRow) => number): { label: string; value: number }[] {
  const byDay = new Map(rows.map((row) => [row.bucket, value(row)] as const));
  const points: { label: string; value: number }[] = [];
  const start = Math.floor(from / DAY) * DAY;
  for (let day = start; day < to && points.length < 400; day += DAY) {
    const label = dayKey(day);
    points.push({ label, value: byDay.get(label) ?? 0 });
  }
  return points;
}

/** A decimal money string as a number, for chart heights only (never for arithmetic shown). */
export function moneyValue(text: string): number {
  const value = Number(text);
  return Number.isFinite(value) ? value : 0;
}
