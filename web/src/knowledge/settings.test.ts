import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, changedSettings, defaultEmbeddingModel, embeddingChoices, validateSettings } from './settings';

const valid = { name: 'Handbook', description: '', ...DEFAULT_SETTINGS };

describe('knowledge base settings', () => {
  it('accept the server defaults', () => {
    expect(validateSettings(valid)).toEqual({});
  });

  it('refuse what the server refuses, field by field', () => {
    expect(validateSettings({ ...valid, name: '  ' }).name).toBe('required');
    expect(validateSettings({ ...valid, name: 'x'.repeat(101) }).name).toBe('tooLong');
    expect(validateSettings({ ...valid, description: 'x'.repeat(2001) }).description).toBe('tooLong');
    expect(validateSettings({ ...valid, chunk_tokens: 63 }).chunk_tokens).toBe('range');
    expect(validateSettings({ ...valid, chunk_tokens: 8193 }).chunk_tokens).toBe('range');
    expect(validateSettings({ ...valid, chunk_tokens: 100.5 }).chunk_tokens).toBe('range');
    // Overlap is at most half a chunk.
    expect(validateSettings({ ...valid, chunk_tokens: 128, chunk_overlap: 64 })).toEqual({});
    expect(validateSettings({ ...valid, chunk_tokens: 128, chunk_overlap: 65 }).chunk_overlap).toBe('range');
    expect(validateSettings({ ...valid, chunk_overlap: -1 }).chunk_overlap).toBe('range');
    expect(validateSettings({ ...valid, top_k: 0 }).top_k).toBe('range');
    expect(validateSettings({ ...valid, top_k: 51 }).top_k).toBe('range');
    expect(validateSettings({ ...valid, score_threshold: 1.2 }).score_threshold).toBe('range');
    expect(validateSettings({ ...valid, vector_weight: Number.NaN }).vector_weight).toBe('range');
  });

  it('send only the fields that changed', () => {
    expect(changedSettings(valid, { ...valid, top_k: 8, name: ' Handbook 2 ' })).toEqual({ top_k: 8, name: 'Handbook 2' });
    expect(changedSettings(valid, { ...valid })).toEqual({});
  });
});

describe('embedding model choices', () => {
  it('offer the models the bases use first, then listed embedding models, then the common names', () => {
    expect(embeddingChoices(['bge-m3'], ['my-embed-v2', 'bge-m3'])).toEqual(['bge-m3', 'my-embed-v2']);
    const guessed = embeddingChoices(['bge-m3'], []);
    expect(guessed.slice(0, 2)).toEqual(['bge-m3', 'text-embedding-3-small']);
    expect(new Set(guessed).size).toBe(guessed.length);
  });

  it('default to the first choice whose name contains "embed"', () => {
    expect(defaultEmbeddingModel(['bge-m3', 'my-embed-v2'])).toBe('my-embed-v2');
    expect(defaultEmbeddingModel(embeddingChoices([], []))).toBe('text-embedding-3-small');
    expect(defaultEmbeddingModel(['bge-m3'])).toBe('bge-m3');
    expect(defaultEmbeddingModel([])).toBe('');
  });
});
