import { act, cleanup, renderHook } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { knowledgeApi } from '../../api/knowledge';
import type { KnowledgeFile } from '../../api/types';
import { useKnowledgeFiles } from './useKnowledgeFiles';

const file = (status: string): KnowledgeFile => ({
  file_id: 'f',
  name: 'a.md',
  media_type: 'text/markdown',
  size_bytes: 1,
  status,
  error: null,
  progress: { chunks_total: 0, chunks_embedded: 0 },
  attempt: 1,
  created_at: 1,
  updated_at: 1,
});

beforeEach(() => vi.useFakeTimers());
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

/** Lets the pending list request resolve and the next poll be scheduled. */
const settle = () => act(async () => undefined);

describe('useKnowledgeFiles', () => {
  it('polls while a file is on its way and stops once every file is indexed or failed', async () => {
    const answers = [[file('queued')], [file('embedding')], [file('indexed')]];
    const list = vi.spyOn(knowledgeApi, 'files').mockImplementation(async () => ({ data: answers.shift() ?? [file('indexed')] }));
    const { result } = renderHook(() => useKnowledgeFiles('kb'));
    await settle();
    expect(result.current.files[0]?.status).toBe('queued');
    await act(async () => vi.advanceTimersByTime(1000));
    expect(result.current.files[0]?.status).toBe('embedding');
    await act(async () => vi.advanceTimersByTime(1000));
    expect(result.current.files[0]?.status).toBe('indexed');
    expect(list).toHaveBeenCalledTimes(3);
    await act(async () => vi.advanceTimersByTime(60_000));
    expect(list).toHaveBeenCalledTimes(3);
  });

  it('stops polling when the page goes away', async () => {
    const list = vi.spyOn(knowledgeApi, 'files').mockImplementation(async () => ({ data: [file('parsing')] }));
    const { unmount } = renderHook(() => useKnowledgeFiles('kb'));
    await settle();
    expect(list).toHaveBeenCalledTimes(1);
    unmount();
    await act(async () => vi.advanceTimersByTime(60_000));
    expect(list).toHaveBeenCalledTimes(1);
  });

  it('a reload after an upload starts polling again', async () => {
    const answers = [[], [file('queued')], [file('indexed')]];
    const list = vi.spyOn(knowledgeApi, 'files').mockImplementation(async () => ({ data: answers.shift() ?? [file('indexed')] }));
    const { result } = renderHook(() => useKnowledgeFiles('kb'));
    await settle();
    await act(async () => vi.advanceTimersByTime(10_000));
    expect(list).toHaveBeenCalledTimes(1);
    await act(() => result.current.reload());
    expect(result.current.files[0]?.status).toBe('queued');
    await act(async () => vi.advanceTimersByTime(1000));
    expect(result.current.files[0]?.status).toBe('indexed');
    expect(list).toHaveBeenCalledTimes(3);
  });
});
