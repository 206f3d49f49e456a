// For the API clients' tests: a signed-in user and a `fetch` that records each request (URL,
// method, JSON body, Authorization header) and answers what the test says.

import { vi } from 'vitest';
import { TOKENS_KEY } from './tokens';

export interface RecordedCall {
  url: string;
  method: string;
  body: unknown;
  auth: string | null;
}

export const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });

/** Signs a user in and stubs `fetch`: each request goes to `record`, and `answer()` answers it. */
export function stubRecordingFetch(record: (call: RecordedCall) => void, answer: () => Response): void {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    record({
      url: String(input),
      method: init.method ?? 'GET',
      body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
      auth: new Headers(init.headers).get('Authorization'),
    });
    return answer();
  });
}
