// A vertical bar chart in plain SVG: categories along x, values on a nice y axis.

import { compactNumber, linear, niceTicks } from './scale';

export interface Bar {
  label: string;
  value: number;
}

export function BarChart({
  bars,
  title,
  height = 220,
  format = compactNumber,
  testId,
}: {
  bars: Bar[];
  title: string;
  height?: number;
  format?: (value: number) => string;
  testId?: string;
}) {
  const width = Math.max(320, bars.length * 44 + 60);
  const pad = { top: 12, right: 12, bottom: 56, left: 48 };
  const max = Math.max(0, ...bars.map((b) => b.value));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const y = linear(top, height - pad.bottom, pad.top);
  const slot = (width - pad.left - pad.right) / Math.max(1, bars.length);
  const barWidth = Math.max(6, Math.min(36, slot * 0.7));
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={title} preserveAspectRatio="xMinYMin meet">
        {ticks.map((tick) => (
          <g key={tick} className="chart__grid">
            <line x1={pad.left} x2={width - pad.right} y1={y(tick)} y2={y(tick)} />
            <text x={pad.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
              {format(tick)}
            </text>
          </g>
        ))}
        {bars.map((bar, i) => {
          const x = pad.left + slot * i + (slot - barWidth) / 2;
          const barTop = y(bar.value);
          return (
            <g key={bar.label + i} className="chart__bar">
              <rect x={x} y={barTop} width={barWidth} height={Math.max(0, height - pad.bottom - barTop)} rx={3}>
                <title>{`${bar.label}: ${format(bar.value)}`}</title>
              </rect>
              <text x={x + barWidth / 2} y={height - pad.bottom + 14} textAnchor="end" transform={`rotate(-35 ${x + barWidth / 2} ${height - pad.bottom + 14})`}>
                {bar.label.length > 14 ? `${bar.label.slice(0, 13)}…` : bar.label}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
