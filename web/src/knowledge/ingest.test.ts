import { describe, expect, it } from 'vitest';
import { ingestProgress, isFinal, needsPolling, pollDelay } from './ingest';

const file = (status: string, chunks_total = 0, chunks_embedded = 0) => ({ status, progress: { chunks_total, chunks_embedded } });

describe('ingestion state', () => {
  it('polls while any file is on its way and stops when all are indexed or failed', () => {
    expect(needsPolling([file('indexed'), file('embedding', 10, 3)])).toBe(true);
    expect(needsPolling([file('queued')])).toBe(true);
    expect(needsPolling([file('indexed'), file('failed')])).toBe(false);
    expect(needsPolling([])).toBe(false);
    expect(isFinal('parsing')).toBe(false);
  });

  it('reports the step and, while embedding, the share of chunks embedded', () => {
    expect(ingestProgress(file('queued'))).toEqual({ step: 1, percent: null });
    expect(ingestProgress(file('chunking'))).toEqual({ step: 3, percent: null });
    expect(ingestProgress(file('embedding', 8, 3))).toEqual({ step: 4, percent: 37 });
    expect(ingestProgress(file('embedding', 0, 0))).toEqual({ step: 4, percent: null });
    expect(ingestProgress(file('indexed', 8, 8))).toEqual({ step: 5, percent: 100 });
    expect(ingestProgress(file('failed'))).toEqual({ step: 0, percent: null });
  });

  it('polls less often the longer ingestion takes', () => {
    expect(pollDelay(0)).toBeLessThan(pollDelay(30));
    expect(pollDelay(30)).toBeLessThan(pollDelay(100));
  });
});
