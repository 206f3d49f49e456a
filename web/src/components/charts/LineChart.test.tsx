import { cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { LineChart, linePath } from './LineChart';

afterEach(cleanup);

describe('linePath', () => {
  it('breaks the line where a value is missing and starts again after it', () => {
    const path = linePath([1, 2, null, 4, 5], (i) => i * 10, (v) => v);
    expect(path).toBe('M0.0,1.0 L10.0,2.0 M30.0,4.0 L40.0,5.0');
    expect(linePath([null, null], (i) => i, (v) => v)).toBe('');
  });
});

describe('LineChart', () => {
  it('draws one line per series with a legend, a description and a data table', () => {
    render(
      <LineChart
        title="Requests"
        description="Highest: gpt-4o 3."
        labels={['01-31 22:00', '01-31 23:00']}
        series={[
          { name: 'gpt-4o', values: [3, 1] },
          { name: 'gpt-4o-mini', values: [0, null] },
          { name: 'Other', values: [1, 1], tone: 'other' },
        ]}
        table={{ summary: 'Show the numbers', column: 'Time' }}
        testId="chart"
      />,
    );
    const chart = screen.getByTestId('chart');
    const svg = chart.querySelector('svg');
    expect(svg?.getAttribute('role')).toBe('img');
    expect(screen.getByRole('img', { name: 'Requests' })).toBe(svg);
    expect(document.getElementById(svg?.getAttribute('aria-describedby') ?? '')?.textContent).toBe('Highest: gpt-4o 3.');
    expect(screen.getAllByTestId('chart-legend-item').map((item) => item.textContent)).toEqual(['gpt-4o', 'gpt-4o-mini', 'Other']);
    expect(chart.querySelectorAll('.chart__series')).toHaveLength(3);
    expect(chart.querySelector('.chart__series--other')?.getAttribute('data-series')).toBe('Other');
    expect(chart.querySelectorAll('.chart__area'), 'no area under several lines').toHaveLength(0);
    // A missing value draws no dot.
    expect(chart.querySelectorAll('[data-series="gpt-4o-mini"] circle')).toHaveLength(1);

    fireEvent.click(screen.getByText('Show the numbers'));
    const table = screen.getByTestId('chart-table');
    const rows = within(table).getAllByRole('row').map((row) => [...row.querySelectorAll('th, td')].map((cell) => cell.textContent));
    expect(rows).toEqual([
      ['Time', 'gpt-4o', 'gpt-4o-mini', 'Other'],
      ['01-31 22:00', '3', '0', '1'],
      ['01-31 23:00', '1', '—', '1'],
    ]);
  });

  it('keeps the single-series form: an area, no legend', () => {
    render(<LineChart title="Requests per day" points={[{ label: '2025-01-01', value: 2 }, { label: '2025-01-02', value: 0 }]} testId="single" />);
    const chart = screen.getByTestId('single');
    expect(chart.querySelectorAll('.chart__area')).toHaveLength(1);
    expect(screen.queryAllByTestId('chart-legend-item')).toHaveLength(0);
    expect([...chart.querySelectorAll('.chart__xlabel')].map((t) => t.textContent)).toEqual(['01-01', '01-02']);
  });
});
