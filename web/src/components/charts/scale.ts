// Axis arithmetic for the small SVG charts: "nice" round tick steps (1, 2, 5 × 10^n) and a
// linear mapping from values to pixels.

/** Ticks from 0 to at least `max`, about `count` of them, on a 1/2/5 step. */
export function niceTicks(max: number, count = 4): number[] {
  if (!Number.isFinite(max) || max <= 0) return [0, 1];
  const rough = max / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= rough) ?? 10 * power;
  const ticks: number[] = [];
  for (let value = 0; value < max + step / 2 && ticks.length < 50; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  if ((ticks[ticks.length - 1] as number) < max) ticks.push(Number((ticks.length * step).toPrecision(12)));
  return ticks;
}

/** Maps [0, domainMax] onto [rangeStart, rangeEnd]. */
export function linear(domainMax: number, rangeStart: number, rangeEnd: number): (value: number) => number {
  const span = domainMax > 0 ? domainMax : 1;
  return (value) => rangeStart + ((rangeEnd - rangeStart) * value) / span;
}

export function compactNumber(value: number): string {
  if (Math.abs(value) >= 1e6) return `${Number((value / 1e6).toPrecision(3))}M`;
  if (Math.abs(value) >= 1e3) return `${Number((value / 1e3).toPrecision(3))}k`;
  return String(Number(value.toPrecision(4)));
}
