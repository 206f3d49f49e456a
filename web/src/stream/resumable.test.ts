import { describe, expect, it } from 'vitest';
import type { SseEvent } from './sse';
import { readResumableStream, StreamError } from './resumable';

const encoder = new TextEncoder();

/** A Response whose body sends `chunks` and then ends (or errors, or hangs). */
function sseResponse(chunks: string[], end: 'close' | 'error' | 'hang' = 'close', status = 200): Response {
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) {
        controller.enqueue(encoder.encode(chunks[i++] as string));
        return;
      }
      if (end === 'close') controller.close();
      else if (end === 'error') controller.error(new TypeError('network error'));
      else return new Promise(() => undefined);
    },
  });
  return new Response(body, { status, headers: { 'Content-Type': 'text/event-stream' } });
}

const event = (id: number, type: string, data: string) => `id: ${id}\nevent: ${type}\ndata: ${data}\n\n`;
const noSleep = () => Promise.resolve();

describe('readResumableStream', () => {
  it('reconnects with Last-Event-ID after the connection drops mid-event and loses nothing', async () => {
    const opened: (string | undefined)[] = [];
    const seen: SseEvent[] = [];
    const answers = [
      // First connection: two events, then half of the third, then the network fails.
      () => sseResponse([event(1, 'text', 'a'), event(2, 'text', 'b') + 'id: 3\nevent: text\nda'], 'error'),
      // The server resumes after id 2.
      () => sseResponse([event(3, 'text', 'c'), event(4, 'done', '{}')]),
    ];
    const outcome = await readResumableStream({
      open: async (lastEventId) => {
        opened.push(lastEventId);
        return (answers.shift() as () => Response)();
      },
      onEvent: (e) => seen.push(e),
      isTerminal: (e) => e.event === 'done',
      sleep: noSleep,
    });
    expect(opened).toEqual([undefined, '2']);
    expect(seen.map((e) => e.data)).toEqual(['a', 'b', 'c', '{}']);
    expect(outcome).toEqual({ outcome: 'complete', lastEventId: '4' });
  });

  it('resumes when the body ends cleanly without a terminal event', async () => {
    const opened: (string | undefined)[] = [];
    const answers = [() => sseResponse([event(1, 'text', 'a')]), () => sseResponse([event(2, 'done', '{}')])];
    await readResumableStream({
      open: async (id) => {
        opened.push(id);
        return (answers.shift() as () => Response)();
      },
      onEvent: () => undefined,
      isTerminal: (e) => e.event === 'done',
      sleep: noSleep,
    });
    expect(opened).toEqual([undefined, '1']);
  });

  it('drops events the server replays twice', async () => {
    const seen: string[] = [];
    const answers = [
      () => sseResponse([event(1, 'text', 'a'), event(2, 'text', 'b')], 'error'),
      () => sseResponse([event(2, 'text', 'b'), event(3, 'done', '{}')]),
    ];
    await readResumableStream({
      open: async () => (answers.shift() as () => Response)(),
      onEvent: (e) => seen.push(e.data),
      isTerminal: (e) => e.event === 'done',
      sleep: noSleep,
    });
    expect(seen).toEqual(['a', 'b', '{}']);
  });

  it('retries failed connections with backoff, then gives up', async () => {
    const waits: number[] = [];
    let calls = 0;
    await expect(
      readResumableStream({
        open: async () => {
          calls += 1;
          throw new TypeError('Failed to fetch');
        },
        onEvent: () => undefined,
        isTerminal: () => false,
        retryDelaysMs: [10, 20, 40],
        maxAttempts: 4,
        sleep: async (ms) => {
          waits.push(ms);
        },
      }),
    ).rejects.toBeInstanceOf(StreamError);
    expect(calls).toBe(5);
    expect(waits).toEqual([10, 20, 40, 40]);
  });

  it('retries a 503 but fails at once on a 404', async () => {
    const statuses = [503, 404];
    let calls = 0;
    const error = await readResumableStream({
      open: async () => {
        calls += 1;
        return sseResponse([], 'close', statuses.shift() as number);
      },
      onEvent: () => undefined,
      isTerminal: () => false,
      sleep: noSleep,
    }).catch((e: unknown) => e);
    expect(calls).toBe(2);
    expect(error).toBeInstanceOf(StreamError);
    expect((error as StreamError).status).toBe(404);
  });

  it('reconnects when the connection goes silent past the idle timeout', async () => {
    const opened: (string | undefined)[] = [];
    const answers = [() => sseResponse([event(5, 'text', 'a')], 'hang'), () => sseResponse([event(6, 'done', '{}')])];
    await readResumableStream({
      open: async (id) => {
        opened.push(id);
        return (answers.shift() as () => Response)();
      },
      onEvent: () => undefined,
      isTerminal: (e) => e.event === 'done',
      idleTimeoutMs: 30,
      sleep: noSleep,
    });
    expect(opened).toEqual([undefined, '5']);
  });

  it('stops without reconnecting when the caller aborts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const result = await readResumableStream({
      signal: controller.signal,
      open: async () => {
        calls += 1;
        return sseResponse([event(1, 'text', 'a')], 'hang');
      },
      onEvent: () => controller.abort(),
      isTerminal: () => false,
      sleep: noSleep,
      idleTimeoutMs: 20,
    });
    expect(result.outcome).toBe('aborted');
    expect(calls).toBe(1);
  });

  it('starts after a given id', async () => {
    const opened: (string | undefined)[] = [];
    await readResumableStream({
      lastEventId: '9',
      open: async (id) => {
        opened.push(id);
        return sseResponse([event(10, 'done', '{}')]);
      },
      onEvent: () => undefined,
      isTerminal: (e) => e.event === 'done',
    });
    expect(opened).toEqual(['9']);
  });
});
