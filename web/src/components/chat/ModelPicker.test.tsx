import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Model } from '../../api/types';
import { ModelPicker } from './ModelPicker';

afterEach(cleanup);

const model = (id: string): Model => ({ id, provider: 'openai', context_window: null, price: null });
const MODELS = [model('gpt-4o'), model('gpt-4o-mini'), model('o3')];

function openPicker(value = 'gpt-4o-mini') {
  const onChange = vi.fn();
  render(<ModelPicker models={MODELS} value={value} onChange={onChange} />);
  fireEvent.click(screen.getByTestId('model-picker'));
  const filter = screen.getByTestId('model-filter');
  return { onChange, filter };
}

const activeModel = (filter: HTMLElement) => document.getElementById(filter.getAttribute('aria-activedescendant') ?? '')?.dataset.model;

describe('ModelPicker', () => {
  it('opens with the current model active and focus in the filter box', () => {
    const { filter } = openPicker();
    expect(document.activeElement).toBe(filter);
    expect(activeModel(filter)).toBe('gpt-4o-mini');
  });

  it('picks a model with the arrows and Enter, then gives focus back to its button', () => {
    const { onChange, filter } = openPicker();
    fireEvent.keyDown(filter, { key: 'ArrowDown' });
    expect(activeModel(filter)).toBe('o3');
    fireEvent.keyDown(filter, { key: 'Enter' });
    expect(onChange).toHaveBeenCalledWith('o3');
    expect(screen.queryByTestId('model-popover')).toBeNull();
    expect(document.activeElement).toBe(screen.getByTestId('model-picker'));
  });

  it('filters, and Enter takes the first match', () => {
    const { onChange, filter } = openPicker();
    fireEvent.change(filter, { target: { value: 'o3' } });
    fireEvent.keyDown(filter, { key: 'Enter' });
    expect(onChange).toHaveBeenCalledWith('o3');
  });

  it('closes with Esc without a change', () => {
    const { onChange, filter } = openPicker();
    fireEvent.keyDown(filter, { key: 'Escape' });
    expect(screen.queryByTestId('model-popover')).toBeNull();
    expect(onChange).not.toHaveBeenCalled();
  });

  it('lists options without controls inside them (no nested interactive elements)', () => {
    openPicker();
    const options = screen.getAllByRole('option');
    expect(options).toHaveLength(3);
    for (const option of options) expect(option.querySelector('button, a, input, [tabindex]')).toBeNull();
    fireEvent.click(options[0]!);
    expect(screen.queryByTestId('model-popover')).toBeNull();
  });
});
