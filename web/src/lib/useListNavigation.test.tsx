import { act, cleanup, fireEvent, render, renderHook, screen } from '@testing-library/react';
import { useState } from 'react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { nextActiveIndex, useListNavigation } from './useListNavigation';

afterEach(cleanup);

describe('nextActiveIndex', () => {
  it('moves down and up, wrapping at both ends', () => {
    expect(nextActiveIndex(0, 'ArrowDown', 3)).toBe(1);
    expect(nextActiveIndex(2, 'ArrowDown', 3)).toBe(0);
    expect(nextActiveIndex(1, 'ArrowUp', 3)).toBe(0);
    expect(nextActiveIndex(0, 'ArrowUp', 3)).toBe(2);
  });

  it('starts from nothing active at the first or the last option', () => {
    expect(nextActiveIndex(-1, 'ArrowDown', 3)).toBe(0);
    expect(nextActiveIndex(-1, 'ArrowUp', 3)).toBe(2);
  });

  it('ignores other keys and empty lists', () => {
    expect(nextActiveIndex(0, 'a', 3)).toBeNull();
    expect(nextActiveIndex(0, 'Home', 3)).toBeNull();
    expect(nextActiveIndex(0, 'ArrowDown', 0)).toBeNull();
  });
});

/** A search box and its results, as the search dialog and the model picker use the hook. */
function Picker({ items, onChoose, initialIndex }: { items: string[]; onChoose: (item: string) => void; initialIndex?: number }) {
  const nav = useListNavigation(items, onChoose, initialIndex);
  return (
    <>
      <input aria-label="query" onKeyDown={nav.onKeyDown} aria-activedescendant={nav.activeIndex >= 0 ? `o${nav.activeIndex}` : undefined} />
      <ul role="listbox" aria-label="results">
        {items.map((item, i) => (
          <li key={item} id={`o${i}`} role="option" aria-selected={i === nav.activeIndex}>
            {item}
          </li>
        ))}
      </ul>
    </>
  );
}

const active = () => screen.getAllByRole('option').find((o) => o.getAttribute('aria-selected') === 'true')?.textContent;

describe('useListNavigation', () => {
  it('moves the active option with the arrows and chooses it with Enter', () => {
    const onChoose = vi.fn();
    render(<Picker items={['a', 'b', 'c']} onChoose={onChoose} />);
    const box = screen.getByLabelText('query');
    expect(active()).toBe('a');
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(active()).toBe('c');
    expect(box.getAttribute('aria-activedescendant')).toBe('o2');
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(active()).toBe('a');
    fireEvent.keyDown(box, { key: 'ArrowUp' });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onChoose).toHaveBeenCalledWith('c');
  });

  it('does not choose with the Enter that confirms an input method composition', () => {
    const onChoose = vi.fn();
    render(<Picker items={['a', 'b']} onChoose={onChoose} />);
    const box = screen.getByLabelText('query');
    fireEvent.keyDown(box, { key: 'Enter', isComposing: true });
    fireEvent.keyDown(box, { key: 'Enter', keyCode: 229 });
    expect(onChoose).not.toHaveBeenCalled();
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onChoose).toHaveBeenCalledWith('a');
  });

  it('keeps the caret where it is: the arrows are taken, other keys are not', () => {
    render(<Picker items={['a', 'b']} onChoose={() => undefined} />);
    const box = screen.getByLabelText('query');
    expect(fireEvent.keyDown(box, { key: 'ArrowDown' })).toBe(false);
    expect(fireEvent.keyDown(box, { key: 'x' })).toBe(true);
    expect(fireEvent.keyDown(box, { key: 'Home' })).toBe(true);
  });

  it('starts again at the initial option when the items change', () => {
    function Changing() {
      const [items, setItems] = useState(['a', 'b', 'c']);
      return (
        <>
          <Picker items={items} onChoose={() => undefined} initialIndex={1} />
          <button type="button" onClick={() => setItems(['x', 'y', 'z'])}>
            new search
          </button>
        </>
      );
    }
    render(<Changing />);
    expect(active()).toBe('b');
    fireEvent.keyDown(screen.getByLabelText('query'), { key: 'ArrowDown' });
    expect(active()).toBe('c');
    fireEvent.click(screen.getByText('new search'));
    expect(active()).toBe('y');
  });

  it('has no active option and ignores Enter when the list is empty', () => {
    const onChoose = vi.fn();
    const { result } = renderHook(() => useListNavigation([] as string[], onChoose));
    expect(result.current.activeIndex).toBe(-1);
    const event = { key: 'Enter', preventDefault: vi.fn(), nativeEvent: {} } as unknown as Parameters<typeof result.current.onKeyDown>[0];
    act(() => result.current.onKeyDown(event));
    expect(onChoose).not.toHaveBeenCalled();
    expect(event.preventDefault).not.toHaveBeenCalled();
  });
});
