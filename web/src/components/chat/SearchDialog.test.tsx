import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { MemoryRouter, Route, Routes, useLocation } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chatApi } from '../../api/chat';
import type { SearchResult } from '../../api/types';
import { SearchDialog } from './SearchDialog';

afterEach(cleanup);

const result = (n: number, snippet: string): SearchResult => ({
  message_id: `m${n}`,
  session_id: `s${n}`,
  topic_id: `t${n}`,
  topic_title: `Topic ${n}`,
  session_title: `Chat ${n}`,
  role: 'user',
  snippet,
  created_at: 1_700_000_000_000,
});

const RESULTS = [
  result(1, 'Where do Quokkas live? quokkas!'),
  result(2, '<b>quokka</b> facts'),
  result(3, 'A third quokka'),
];

beforeEach(() => {
  vi.spyOn(chatApi, 'search').mockResolvedValue({ results: RESULTS });
});

function Where() {
  const location = useLocation();
  return <output data-testid="where">{location.pathname + location.search}</output>;
}

/** The dialog over a router; resolves once the results of "quokka" are shown. */
async function searchQuokka(onClose = vi.fn()) {
  render(
    <MemoryRouter initialEntries={['/chat']}>
      <Routes>
        <Route path="*" element={<Where />} />
      </Routes>
      <SearchDialog onClose={onClose} />
    </MemoryRouter>,
  );
  const box = screen.getByTestId('search-input');
  fireEvent.change(box, { target: { value: 'quokka' } });
  const options = await screen.findAllByTestId('search-result');
  return { box, options, onClose };
}

describe('SearchDialog', () => {
  it('marks the query in each snippet with <mark> elements and keeps markup as text', async () => {
    const { options } = await searchQuokka();
    expect([...options[0]!.querySelectorAll('mark')].map((m) => m.textContent)).toEqual(['Quokka', 'quokka']);
    expect(options[1]!.querySelector('b')).toBeNull();
    expect(options[1]!.textContent).toContain('<b>quokka</b> facts');
    expect(chatApi.search).toHaveBeenCalledWith('quokka');
  });

  it('is a combobox whose active result the arrows move while focus stays in the box', async () => {
    const { box, options } = await searchQuokka();
    expect(box.getAttribute('role')).toBe('combobox');
    expect(box.getAttribute('aria-expanded')).toBe('true');
    expect(document.getElementById(box.getAttribute('aria-controls') ?? '')?.getAttribute('role')).toBe('listbox');
    expect(box.getAttribute('aria-activedescendant')).toBe(options[0]!.id);
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    expect(box.getAttribute('aria-activedescendant')).toBe(options[1]!.id);
    expect(options[1]!.getAttribute('aria-selected')).toBe('true');
    expect(options[0]!.getAttribute('aria-selected')).toBe('false');
    fireEvent.keyDown(box, { key: 'ArrowUp' });
    fireEvent.keyDown(box, { key: 'ArrowUp' });
    expect(box.getAttribute('aria-activedescendant')).toBe(options[2]!.id);
  });

  it('opens the active result with Enter: its topic at the message, and closes', async () => {
    const { box, onClose } = await searchQuokka();
    fireEvent.keyDown(box, { key: 'ArrowDown' });
    fireEvent.keyDown(box, { key: 'Enter' });
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(screen.getByTestId('where').textContent).toBe('/chat/s2/t2?m=m2');
  });

  it('opens a result on click too', async () => {
    const { options } = await searchQuokka();
    fireEvent.click(options[2]!);
    expect(screen.getByTestId('where').textContent).toBe('/chat/s3/t3?m=m3');
  });

  it('names no list while there is none', () => {
    render(
      <MemoryRouter>
        <SearchDialog onClose={() => undefined} />
      </MemoryRouter>,
    );
    const box = screen.getByTestId('search-input');
    expect(box.getAttribute('aria-expanded')).toBe('false');
    expect(box.hasAttribute('aria-controls')).toBe(false);
    expect(box.hasAttribute('aria-activedescendant')).toBe(false);
  });
});
