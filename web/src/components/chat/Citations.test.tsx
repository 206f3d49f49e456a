import { act, cleanup, fireEvent, render, screen, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { filesApi } from '../../api/files';
import { knowledgeApi } from '../../api/knowledge';
import type { Message, Source } from '../../api/types';
import { MessageItem } from './MessageItem';

afterEach(cleanup);

const refunds: Source = {
  index: 1,
  title: 'handbook.md — Handbook > Refunds',
  url: null,
  snippet: 'Refunds are paid within 14 days of the request.',
  file_id: 'file-1',
  chunk_id: 'chunk-1',
  knowledge_base_id: 'kb-1',
  heading: 'Handbook > Refunds',
  page: null,
  score: 0.8234,
};
const shipping: Source = { ...refunds, index: 2, title: 'faq.md — Shipping', heading: 'Shipping', snippet: `${'Shipping is free '.repeat(20)}…`, chunk_id: 'chunk-2', page: 3 };

const reply: Message = {
  id: 'a1',
  session_id: 's',
  topic_id: 't',
  parent_id: 'u1',
  role: 'assistant',
  content: 'Refunds take 14 days [1]. Shipping is free [2]. Not a source: [3].',
  reasoning: '',
  model: 'm',
  status: 'complete',
  error: null,
  usage: null,
  cost: null,
  currency: 'USD',
  sources: [refunds, shipping],
  siblings: null,
  created_at: 1,
  updated_at: 1,
};

const noop = () => undefined;
const actions = { onCopy: noop, onEdit: noop, onRegenerate: noop, onDelete: noop, onSwitch: noop };

function show(message: Message = reply) {
  return render(<MessageItem message={message} assistantAvatar="🤖" assistantName="Bot" live={false} reconnecting={0} busy={false} {...actions} />);
}

beforeEach(() => {
  vi.spyOn(filesApi, 'get').mockResolvedValue({
    id: 'file-1',
    name: 'handbook.md',
    media_type: 'text/markdown',
    size_bytes: 10,
    sha256: '',
    created_at: 1,
    url: '/api/v1/files/file-1/content?expires=1&signature=s',
    url_expires_at: 9e9,
  });
});

describe('citations in a reply', () => {
  it('become chips for known sources only, with an accessible name', () => {
    show();
    const chips = screen.getAllByTestId('citation-chip');
    expect(chips.map((c) => c.getAttribute('data-index'))).toEqual(['1', '2']);
    expect(chips[0]?.getAttribute('aria-label')).toBe('Source 1: handbook.md');
    expect(screen.getByTestId('message-content').textContent).toContain('[3]');
  });

  it('show the source on focus and hide it with Esc, without the Esc reaching the page', () => {
    show();
    const chip = screen.getAllByTestId('citation-chip')[1] as HTMLElement;
    fireEvent.focus(chip);
    const preview = screen.getByTestId('citation-preview');
    expect(preview.getAttribute('role')).toBe('tooltip');
    expect(chip.getAttribute('aria-describedby')).toBe(preview.id);
    expect(preview.textContent).toContain('faq.md');
    expect(preview.textContent).toContain('Shipping · p. 3');
    expect(preview.textContent).toContain('Score 0.82');
    const onWindowKey = vi.fn();
    window.addEventListener('keydown', onWindowKey);
    fireEvent.keyDown(chip, { key: 'Escape' });
    window.removeEventListener('keydown', onWindowKey);
    expect(screen.queryByTestId('citation-preview')).toBeNull();
    expect(onWindowKey).not.toHaveBeenCalled();
  });

  it('open the whole passage and a download link on click', async () => {
    show();
    await act(async () => {
      fireEvent.click(screen.getAllByTestId('citation-chip')[0] as HTMLElement);
    });
    const panel = screen.getByTestId('source-panel');
    expect(within(panel).getByTestId('source-passage').textContent).toBe(refunds.snippet);
    expect(within(panel).getByTestId('source-download').getAttribute('href')).toBe('/api/v1/files/file-1/content?expires=1&signature=s');
  });

  it('fetch a cut passage whole from its knowledge base', async () => {
    const search = vi.spyOn(knowledgeApi, 'search').mockResolvedValue({
      data: [
        { chunk_id: 'other', text: 'not this one' },
        { chunk_id: 'chunk-2', text: 'Shipping is free for every order over ten euros, anywhere in the EU.' },
      ] as never,
    });
    show();
    await act(async () => {
      fireEvent.click(screen.getAllByTestId('citation-chip')[1] as HTMLElement);
    });
    expect(search).toHaveBeenCalledWith('kb-1', shipping.snippet.slice(0, -1).trim(), 10);
    expect(screen.getByTestId('source-passage').textContent).toBe('Shipping is free for every order over ten euros, anywhere in the EU.');
  });
});

describe('the sources list', () => {
  it('is collapsed, counts the sources and opens one', async () => {
    show();
    const list = screen.getByTestId('message-sources') as HTMLDetailsElement;
    expect(list.open).toBe(false);
    expect(screen.getByTestId('message-sources-toggle').textContent).toContain('Sources (2)');
    await act(async () => {
      fireEvent.click(within(list).getAllByTestId('source-item')[0] as HTMLElement);
    });
    expect(screen.getByTestId('source-panel')).toBeTruthy();
  });

  it('is absent when the reply has no sources, or the record none at all', () => {
    show({ ...reply, sources: [] });
    expect(screen.queryByTestId('message-sources')).toBeNull();
    cleanup();
    const { sources: _none, ...legacy } = reply;
    show(legacy as Message);
    expect(screen.queryByTestId('citation-chip')).toBeNull();
  });
});

describe('attachments of a question', () => {
  it('show images as thumbnails through the signed URL and documents as chips', async () => {
    await act(async () => {
      show({
        ...reply,
        role: 'user',
        content: 'What does this say?',
        sources: [],
        attachments: [
          { file_id: 'file-1', name: 'shot.png', media_type: 'image/png', size: 2048, kind: 'image' },
          { file_id: 'file-2', name: 'handbook.md', media_type: 'text/markdown', size: 812, kind: 'document' },
        ],
      });
    });
    const items = screen.getAllByTestId('message-attachment');
    expect(items.map((i) => i.getAttribute('data-kind'))).toEqual(['image', 'document']);
    expect(items[0]?.querySelector('img')?.getAttribute('src')).toBe('/api/v1/files/file-1/content?expires=1&signature=s');
    expect(items[1]?.textContent).toContain('handbook.md');
    expect(items[1]?.textContent).toContain('812 B');
  });
});
