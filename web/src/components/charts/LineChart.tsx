// A line chart in plain SVG: one series with a soft area under it (`points`), or several with
// a legend (`series` over shared `labels`). Accessible: the caption names the SVG, an optional
// description is read after it, and `table` puts the numbers in a data table under the chart.

import { useId } from 'react';
import '../../styles/charts.css';
import { compactNumber, linear, niceTicks } from './scale';

export interface Point {
  label: string;
  value: number;
}

/** One line; `null` values leave a gap (nothing measured there). */
export interface LineSeries {
  name: string;
  values: (number | null)[];
  /** Colour slot 0–7, or `other` (grey) for a folded series; by position when absent. */
  tone?: number | 'other';
  dashed?: boolean;
}

const TONES = 8;

function toneClass(series: LineSeries, index: number): string {
  const tone = series.tone ?? index;
  return tone === 'other' ? 'chart__series--other' : `chart__series--${tone % TONES}`;
}

/** The path of a line through its values, broken where a value is missing. */
export function linePath(values: readonly (number | null)[], x: (i: number) => number, y: (v: number) => number): string {
  let path = '';
  let drawing = false;
  values.forEach((value, i) => {
    if (value === null || !Number.isFinite(value)) {
      drawing = false;
      return;
    }
    path += `${path ? ' ' : ''}${drawing ? 'L' : 'M'}${x(i).toFixed(1)},${y(value).toFixed(1)}`;
    drawing = true;
  });
  return path;
}

export function LineChart({
  points,
  series: many,
  labels: manyLabels,
  title,
  description,
  height = 220,
  format = compactNumber,
  tickLabel = (label) => label.slice(5),
  table,
  testId,
}: {
  /** A single series (no legend). */
  points?: Point[];
  /** Several series over `labels`; a legend names them. */
  series?: LineSeries[];
  labels?: string[];
  title: string;
  /** Read by screen readers after the title: what the chart shows, in words. */
  description?: string;
  height?: number;
  format?: (value: number) => string;
  /** The x axis text of a label (`2025-01-31` → `01-31` by default). */
  tickLabel?: (label: string) => string;
  /** A data table of every value under the chart, in a disclosure: its summary text and the
   *  heading of its label column. */
  table?: { summary: string; column: string };
  testId?: string;
}) {
  const id = useId();
  const single = !many;
  const labels = many ? (manyLabels ?? []) : (points ?? []).map((p) => p.label);
  const lines: LineSeries[] = many ?? [{ name: title, values: (points ?? []).map((p) => p.value) }];
  const width = 640;
  const pad = { top: 12, right: 16, bottom: 36, left: 48 };
  const values = lines.flatMap((line) => line.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const max = Math.max(0, ...values);
  const ticks = niceTicks(max);
  const top = ticks[ticks.length - 1] ?? 1;
  const y = linear(top, height - pad.bottom, pad.top);
  const inner = width - pad.left - pad.right;
  const x = (i: number) => pad.left + (labels.length <= 1 ? inner / 2 : (inner * i) / (labels.length - 1));
  const labelEvery = Math.max(1, Math.ceil(labels.length / 8));
  // Dots help a short series be read; on a long one they only clutter.
  const dots = labels.length <= 40;
  const first = lines[0];
  const area =
    single && first && first.values.length
      ? `${linePath(first.values, x, y)} L${x(first.values.length - 1).toFixed(1)},${y(0)} L${x(0).toFixed(1)},${y(0)} Z`
      : '';
  return (
    <figure className="chart" data-testid={testId}>
      <figcaption id={`${id}-title`}>{title}</figcaption>
      {description ? (
        <p id={`${id}-description`} className="sr-only">
          {description}
        </p>
      ) : null}
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        role="img"
        aria-labelledby={`${id}-title`}
        aria-describedby={description ? `${id}-description` : undefined}
      >
        {ticks.map((tick) => (
          <g key={tick} className="chart__grid">
            <line x1={pad.left} x2={width - pad.right} y1={y(tick)} y2={y(tick)} />
            <text x={pad.left - 6} y={y(tick)} dy="0.32em" textAnchor="end">
              {format(tick)}
            </text>
          </g>
        ))}
        {area ? <path className="chart__area" d={area} /> : null}
        {lines.map((line, index) => {
          const path = linePath(line.values, x, y);
          return (
            <g key={line.name + index} className={single ? 'chart__single' : `chart__series ${toneClass(line, index)}`} data-series={line.name}>
              {path ? <path className="chart__line" d={path} fill="none" strokeDasharray={line.dashed ? '5 4' : undefined} /> : null}
              {dots
                ? line.values.map((value, i) =>
                    value === null ? null : (
                      <circle key={i} className="chart__point" cx={x(i)} cy={y(value)} r={single ? 3 : 2.5}>
                        <title>{`${single ? '' : `${line.name} · `}${labels[i] ?? ''}: ${format(value)}`}</title>
                      </circle>
                    ),
                  )
                : null}
            </g>
          );
        })}
        {labels.map((label, i) =>
          i % labelEvery === 0 ? (
            <text key={label + i} className="chart__xlabel" x={x(i)} y={height - pad.bottom + 16} textAnchor="middle">
              {tickLabel(label)}
            </text>
          ) : null,
        )}
      </svg>
      {single ? null : (
        <ul className="chart__legend" aria-label={title}>
          {lines.map((line, index) => (
            <li key={line.name + index} className={`chart__legend-item ${toneClass(line, index)}`} data-testid="chart-legend-item">
              <span className={`chart__swatch${line.dashed ? ' chart__swatch--dashed' : ''}`} aria-hidden="true" />
              {line.name}
            </li>
          ))}
        </ul>
      )}
      {table ? (
        <details className="chart__data">
          <summary>{table.summary}</summary>
          <div className="table-wrap">
            <table className="table table--dense" data-testid={testId ? `${testId}-table` : undefined}>
              <caption className="sr-only">{title}</caption>
              <thead>
                <tr>
                  <th scope="col">{table.column}</th>
                  {lines.map((line, index) => (
                    <th key={line.name + index} scope="col">
                      {line.name}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {labels.map((label, i) => (
                  <tr key={label + i}>
                    <th scope="row">{label}</th>
                    {lines.map((line, index) => {
                      const value = line.values[i];
                      return <td key={line.name + index}>{value === null || value === undefined ? '—' : format(value)}</td>;
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
      ) : null}
    </figure>
  );
}
