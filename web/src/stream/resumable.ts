// Reads an SSE stream over fetch and keeps reading it across network drops: when the body
// ends or fails before a terminal event, it reconnects with `Last-Event-ID` set to the last
// event it dispatched, with backoff. Events reach `onEvent` once each, in order.

import { SseParser, type SseEvent } from './sse';

export class StreamError extends Error {
  readonly status: number;
  readonly response: Response | undefined;

  constructor(status: number, message: string, response?: Response) {
    super(message);
    this.name = 'StreamError';
    this.status = status;
    this.response = response;
  }
}

export interface ResumableStreamOptions {
  /** Opens the stream; `lastEventId` is undefined on the first connection. */
  open: (lastEventId: string | undefined, signal: AbortSignal) => Promise<Response>;
  onEvent: (event: SseEvent) => void;
  /** The event after which the stream is complete (no reconnect). */
  isTerminal: (event: SseEvent) => boolean;
  signal?: AbortSignal;
  /** Resume after this id from the start. */
  lastEventId?: string;
  /** Waits between reconnects; the last one repeats. */
  retryDelaysMs?: number[];
  /** Consecutive failed connections (no new event in between) before giving up. */
  maxAttempts?: number;
  /** No byte for this long (the server pings every 15 s) means a dead connection. */
  idleTimeoutMs?: number;
  onReconnect?: (attempt: number, lastEventId: string | undefined) => void;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export interface StreamOutcome {
  /** `complete`: a terminal event arrived; `aborted`: the caller's signal fired. */
  outcome: 'complete' | 'aborted';
  lastEventId: string | undefined;
}

const DEFAULT_DELAYS = [250, 500, 1000, 2000, 4000];

function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}

/** Statuses worth retrying: the server or a proxy in between is briefly unwell. */
function retryable(status: number): boolean {
  return status === 408 || status === 425 || status === 429 || status >= 500;
}

function numericId(id: string | undefined): number | undefined {
  if (id === undefined || !/^\d+$/.test(id)) return undefined;
  return Number(id);
}

export async function readResumableStream(options: ResumableStreamOptions): Promise<StreamOutcome> {
  const outer = options.signal;
  const delays = options.retryDelaysMs ?? DEFAULT_DELAYS;
  const maxAttempts = options.maxAttempts ?? 8;
  const idleTimeoutMs = options.idleTimeoutMs ?? 45_000;
  const sleep = options.sleep ?? abortableSleep;
  let lastEventId = options.lastEventId;
  let failures = 0;
  const never = new AbortController().signal;

  while (!outer?.aborted) {
    const attempt = new AbortController();
    const forward = () => attempt.abort();
    outer?.addEventListener('abort', forward);
    let progressed = false;
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const armIdle = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => attempt.abort(), idleTimeoutMs);
    };
    try {
      armIdle();
      const response = await options.open(lastEventId, attempt.signal);
      if (!response.ok) {
        if (!retryable(response.status)) {
          throw new StreamError(response.status, `stream answered HTTP ${response.status}`, response);
        }
        throw new Error(`stream answered HTTP ${response.status}`);
      }
      if (!response.body) throw new StreamError(response.status, 'stream has no body', response);
      const parser = new SseParser(lastEventId);
      const reader = response.body.getReader();
      // Cancelling the reader ends a pending read even when the body is not tied to the signal.
      const cancel = () => void reader.cancel().catch(() => undefined);
      attempt.signal.addEventListener('abort', cancel);
      const decoder = new TextDecoder();
      let finished = false;
      try {
        while (!finished) {
          const { done, value } = await reader.read();
          armIdle();
          if (done) break;
          for (const event of parser.push(decoder.decode(value, { stream: true }))) {
            const seen = numericId(lastEventId);
            const id = numericId(event.id);
            // A server (or proxy) that replays what we already have must not duplicate text.
            if (seen !== undefined && id !== undefined && id <= seen) continue;
            lastEventId = event.id;
            progressed = true;
            options.onEvent(event);
            if (options.isTerminal(event)) {
              finished = true;
              break;
            }
          }
        }
      } finally {
        attempt.signal.removeEventListener('abort', cancel);
        parser.finish();
        reader.cancel().catch(() => undefined);
      }
      if (finished) return { outcome: 'complete', lastEventId };
      // The body ended without a terminal event: the connection dropped; resume.
    } catch (error) {
      if (error instanceof StreamError) throw error;
      if (outer?.aborted) break;
      // Network failure, idle timeout or a retryable status: fall through to reconnect.
    } finally {
      clearTimeout(idleTimer);
      outer?.removeEventListener('abort', forward);
    }
    failures = progressed ? 1 : failures + 1;
    if (failures > maxAttempts) throw new StreamError(0, 'the stream could not be resumed');
    const delay = delays[Math.min(failures - 1, delays.length - 1)] ?? 1000;
    await sleep(delay, outer ?? never);
    if (outer?.aborted) break;
    options.onReconnect?.(failures, lastEventId);
  }
  return { outcome: 'aborted', lastEventId };
}
