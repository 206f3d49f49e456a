// Arrow keys and Enter for a list whose focus stays in a text box (a combobox: the search
// dialog, the model picker). The box owns DOM focus; the list has an "active" option, announced
// through aria-activedescendant, that ArrowDown/ArrowUp move (wrapping) and Enter chooses.

import { useState, type KeyboardEvent } from 'react';
import { isComposing, keyPress } from './keys';

/** The option ArrowDown/ArrowUp move to from `current` among `count`, or null for other keys. */
export function nextActiveIndex(current: number, key: string, count: number): number | null {
  if (count <= 0) return null;
  if (key === 'ArrowDown') return current < 0 || current >= count - 1 ? 0 : current + 1;
  if (key === 'ArrowUp') return current <= 0 || current > count - 1 ? count - 1 : current - 1;
  return null;
}

export interface ListNavigation {
  /** The active option's index, -1 when the list is empty. */
  activeIndex: number;
  setActiveIndex: (index: number) => void;
  /** For the text box's onKeyDown. */
  onKeyDown: (event: KeyboardEvent) => void;
}

/**
 * The active option of `items`. A new `items` array (a new search, another filter) makes
 * `initialIndex` active again, so keep the array stable between renders (useMemo or state).
 */
export function useListNavigation<T>(items: readonly T[], onChoose: (item: T) => void, initialIndex = 0): ListNavigation {
  // The index is kept with the items it points into, so new items reset it without an effect.
  const [state, setState] = useState({ items, index: initialIndex });
  const raw = state.items === items ? state.index : initialIndex;
  const activeIndex = items.length === 0 ? -1 : Math.min(Math.max(raw, 0), items.length - 1);

  const setActiveIndex = (index: number) => setState({ items, index });

  const onKeyDown = (event: KeyboardEvent) => {
    if (event.key === 'Enter') {
      const item = items[activeIndex];
      if (item === undefined || isComposing(keyPress(event))) return;
      event.preventDefault();
      onChoose(item);
      return;
    }
    const next = nextActiveIndex(activeIndex, event.key, items.length);
    if (next === null) return;
    // The arrows would otherwise move the caret to the start or end of the text.
    event.preventDefault();
    setActiveIndex(next);
  };

  return { activeIndex, setActiveIndex, onKeyDown };
}
