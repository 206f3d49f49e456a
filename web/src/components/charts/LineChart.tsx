// A line chart in plain SVG for a daily series, with points and a soft area under the line.

import { compactNumber, linear, niceTicks } from './scale';

export interface Point {
  label: string;
  value: number;
}

export function LineChart({
  points,
  title,
  height = 220,
  format = compactNumber,
  testId,
}: {
  points: Point[];
  title: string;
  height?: number;
  format?: (value: number) => string;
  testId?: string;
}) {
  const width = 640;
  const pad = { top: 12, right: 16, bottom: 36, left: 48 };
  const max = Math.max(0, ...points.map((p) => p.value));
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const y = linear(top, height - pad.bottom, pad.top);
  const x = (i: number) => pad.left + (points.length <= 1 ? (width - pad.left - pad.right) / 2 : ((width - pad.left - pad.right) * i) / (points.length - 1));
  const path = points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(p.value).toFixed(1)}`).join(' ');
  const area = points.length ? `${path} L${x(points.length - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z` : '';
  const labelEvery = Math.max(1, Math.ceil(points.length / 8));
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} width="100%" role="img" aria-label={title}>
        {ticks.map((tick) => (
          <g key={tick} className="chart__grid">
            <line x1={pad.left} x2={width - pad.right} y1={y(tick)} y2={y(tick)} />
            <text x={pad.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
              {format(tick)}
            </text>
          </g>
        ))}
        {area ? <path className="chart__area" d={area} /> : null}
        {path ? <path className="chart__line" d={path} fill="none" /> : null}
        {points.map((p, i) => (
          <g key={p.label + i}>
            <circle className="chart__point" cx={x(i)} cy={y(p.value)} r={3}>
              <title>{`${p.label}: ${format(p.value)}`}</title>
            </circle>
            {i % labelEvery === 0 ? (
              <text className="chart__xlabel" x={x(i)} y={height - pad.bottom + 16} textAnchor="middle">
                {p.label.slice(5)}
              </text>
            ) : null}
          </g>
        ))}
      </svg>
    </figure>
  );
}
