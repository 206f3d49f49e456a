import { describe, expect, it, vi } from 'vitest';
import { ApiClient, ApiError } from './http';
import { memoryTokenStore } from './tokens';

type Handler = (url: string, init: RequestInit) => Response | Promise<Response>;

function json(status: number, body: unknown): Response {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  });
}

function bearer(init: RequestInit): string | null {
  return new Headers(init.headers).get('Authorization');
}

function setup(handler: Handler, tokens = memoryTokenStore({ access_token: 'a1', refresh_token: 'r1' })) {
  const calls: { url: string; auth: string | null; body: string | null }[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    calls.push({ url, auth: bearer(init), body: typeof init.body === 'string' ? init.body : null });
    return handler(url, init);
  });
  const signedOut = vi.fn();
  const client = new ApiClient({ tokens, fetch: fetch as unknown as typeof globalThis.fetch, onSignedOut: signedOut });
  return { client, calls, tokens, signedOut };
}

/** A server whose access tokens are `a<N>`; only the newest is valid; refresh rotates. */
function rotatingServer(state = { access: 'a1', refresh: 'r1', refreshes: 0 }): Handler {
  return async (url, init) => {
    if (url.endsWith('/auth/refresh')) {
      const body = JSON.parse(String(init.body)) as { refresh_token: string };
      if (body.refresh_token !== state.refresh) return json(401, { error: { code: 'unauthenticated', message: 'reused' } });
      state.refreshes += 1;
      state.access = `a${state.refreshes + 1}`;
      state.refresh = `r${state.refreshes + 1}`;
      return json(200, { access_token: state.access, refresh_token: state.refresh, expires_in: 900 });
    }
    if (bearer(init) !== `Bearer ${state.access}`) return json(401, { error: { code: 'unauthenticated', message: 'expired' } });
    return json(200, { ok: true, url });
  };
}

describe('ApiClient', () => {
  it('sends the access token', async () => {
    const { client, calls } = setup(() => json(200, { a: 1 }));
    expect(await client.get('/user/profile')).toEqual({ a: 1 });
    expect(calls[0]).toMatchObject({ url: '/api/v1/user/profile', auth: 'Bearer a1' });
  });

  it('on a 401 refreshes once, stores the rotated tokens and retries with the new access token', async () => {
    const state = { access: 'a2', refresh: 'r1', refreshes: 1 };
    const { client, calls, tokens } = setup(rotatingServer(state));
    await expect(client.get('/chat/sessions')).resolves.toMatchObject({ ok: true });
    expect(calls.map((c) => [c.url, c.auth])).toEqual([
      ['/api/v1/chat/sessions', 'Bearer a1'],
      ['/api/v1/auth/refresh', null],
      ['/api/v1/chat/sessions', 'Bearer a3'],
    ]);
    expect(calls[1]?.body).toBe(JSON.stringify({ refresh_token: 'r1' }));
    expect(tokens.get()).toEqual({ access_token: 'a3', refresh_token: 'r3' });
  });

  it('refreshes only once for concurrent 401s (a rotated refresh token must not be reused)', async () => {
    const state = { access: 'a-new', refresh: 'r1', refreshes: 0 };
    const { client, calls } = setup(rotatingServer(state));
    const results = await Promise.all([client.get('/a'), client.get('/b'), client.get('/c')]);
    expect(results).toHaveLength(3);
    expect(calls.filter((c) => c.url.endsWith('/auth/refresh'))).toHaveLength(1);
  });

  it('does not refresh again when another tab already rotated the tokens', async () => {
    const tokens = memoryTokenStore({ access_token: 'a1', refresh_token: 'r1' });
    let first = true;
    const { client, calls } = setup(async (url, init) => {
      if (first) {
        first = false;
        // Meanwhile another tab refreshed: storage now holds a newer pair.
        tokens.set({ access_token: 'a9', refresh_token: 'r9' });
        return json(401, { error: { code: 'unauthenticated', message: 'expired' } });
      }
      return bearer(init) === 'Bearer a9' ? json(200, { url }) : json(401, {});
    }, tokens);
    await expect(client.get('/x')).resolves.toEqual({ url: '/api/v1/x' });
    expect(calls.some((c) => c.url.endsWith('/auth/refresh'))).toBe(false);
  });

  it('retries only once: a second 401 is returned as an error, not a loop', async () => {
    let refreshes = 0;
    const { client, calls } = setup(async (url) => {
      if (url.endsWith('/auth/refresh')) {
        refreshes += 1;
        return json(200, { access_token: `z${refreshes}`, refresh_token: `y${refreshes}`, expires_in: 1 });
      }
      return json(401, { error: { code: 'unauthenticated', message: 'nope' } });
    });
    const error = await client.get('/x').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(calls).toHaveLength(3);
  });

  it('signs out when the refresh token is refused', async () => {
    const { client, tokens, signedOut } = setup(async () => json(401, { error: { code: 'unauthenticated', message: 'gone' } }));
    await expect(client.get('/x')).rejects.toMatchObject({ status: 401 });
    expect(tokens.get()).toBeNull();
    expect(signedOut).toHaveBeenCalledTimes(1);
  });

  it('keeps the tokens when the refresh fails for a server reason', async () => {
    const { client, tokens, signedOut } = setup(async (url) =>
      url.endsWith('/auth/refresh') ? json(503, { error: { code: 'store_unavailable', message: 'later' } }) : json(401, {}),
    );
    await expect(client.get('/x')).rejects.toMatchObject({ status: 401 });
    expect(tokens.get()).not.toBeNull();
    expect(signedOut).not.toHaveBeenCalled();
  });

  it('does not refresh for calls made without a token', async () => {
    const { client, calls } = setup(async () => json(401, { error: { code: 'unauthenticated', message: 'Wrong password.' } }));
    await expect(client.post('/auth/login', { username: 'a', password: 'b' }, { auth: false })).rejects.toMatchObject({
      code: 'unauthenticated',
      message: 'Wrong password.',
    });
    expect(calls).toHaveLength(1);
  });

  it('turns the product error shape into ApiError and tolerates non-JSON bodies', async () => {
    const { client } = setup(async (url) =>
      url.endsWith('/a') ? json(402, { error: { code: 'insufficient_quota', message: 'Balance used up' } }) : new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    );
    await expect(client.get('/a')).rejects.toMatchObject({ status: 402, code: 'insufficient_quota', message: 'Balance used up' });
    await expect(client.get('/b')).rejects.toMatchObject({ status: 502, code: 'http_502' });
  });

  it('answers undefined for 204 and builds query strings without empty values', async () => {
    const { client, calls } = setup(async () => new Response(null, { status: 204 }));
    await expect(client.delete('/keys/1')).resolves.toBeUndefined();
    await client.get('/m', { query: { topic_id: 't', before: undefined, limit: 50, q: '' } });
    expect(calls[1]?.url).toBe('/api/v1/m?topic_id=t&limit=50');
  });
});

/** An XMLHttpRequest stand-in answering each send with the next scripted status and body. */
function fakeXhr(answers: { status: number; body: unknown }[], seen: { auth: string | null }[]) {
  return () => {
    const listeners: Record<string, (() => void)[]> = {};
    const progress: ((e: { loaded: number; total: number; lengthComputable: boolean }) => void)[] = [];
    const headers: Record<string, string> = {};
    const xhr = {
      status: 0,
      statusText: '',
      responseText: '',
      upload: { addEventListener: (_: string, f: (typeof progress)[number]) => progress.push(f) },
      open: vi.fn(),
      setRequestHeader: (name: string, value: string) => (headers[name] = value),
      addEventListener: (name: string, f: () => void) => (listeners[name] ??= []).push(f),
      abort: () => listeners.abort?.forEach((f) => f()),
      send: () => {
        seen.push({ auth: headers.Authorization ?? null });
        const answer = answers.shift() ?? { status: 500, body: {} };
        queueMicrotask(() => {
          progress.forEach((f) => f({ loaded: 5, total: 10, lengthComputable: true }));
          xhr.status = answer.status;
          xhr.responseText = JSON.stringify(answer.body);
          listeners.load?.forEach((f) => f());
        });
      },
    };
    return xhr as unknown as XMLHttpRequest;
  };
}

describe('ApiClient.upload', () => {
  it('sends the token, reports progress, and refreshes once on 401', async () => {
    const seen: { auth: string | null }[] = [];
    const state = { access: 'a1', refresh: 'r1', refreshes: 0 };
    const tokens = memoryTokenStore({ access_token: 'a1', refresh_token: 'r1' });
    const fetch = vi.fn(async (input: RequestInfo | URL, init: RequestInit = {}) => rotatingServer(state)(String(input), init));
    const client = new ApiClient({
      tokens,
      fetch: fetch as unknown as typeof globalThis.fetch,
      lock: (_name, work) => work(),
      xhr: fakeXhr(
        [
          { status: 401, body: { error: { code: 'unauthenticated', message: 'expired' } } },
          { status: 201, body: { id: 'f1' } },
        ],
        seen,
      ),
    });
    const progress = vi.fn();
    const file = await client.upload<{ id: string }>('/files', new FormData(), { onProgress: progress });
    expect(file.id).toBe('f1');
    expect(seen.map((s) => s.auth)).toEqual(['Bearer a1', 'Bearer a2']);
    expect(progress).toHaveBeenCalledWith(5, 10);
  });

  it('turns 413 and 415 answers into ApiErrors with the server message', async () => {
    const seen: { auth: string | null }[] = [];
    const client = new ApiClient({
      tokens: memoryTokenStore({ access_token: 'a1', refresh_token: 'r1' }),
      xhr: fakeXhr([{ status: 413, body: { error: { code: 'file_too_large', message: 'larger than 20 MiB' } } }], seen),
    });
    const error = await client.upload('/files', new FormData()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 413, code: 'file_too_large', message: 'larger than 20 MiB' });
  });

  it('rejects at once when cancelled before it starts', async () => {
    const controller = new AbortController();
    controller.abort();
    const client = new ApiClient({ tokens: memoryTokenStore(null), xhr: fakeXhr([], []) });
    await expect(client.upload('/files', new FormData(), { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });
});
