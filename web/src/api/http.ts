// The one HTTP client of the UI: adds the access token, and on a 401 refreshes once and
// retries once. Refresh tokens rotate and a reused one signs out every session of the login,
// so a refresh is single-flight within the tab and, where the Web Locks API exists, across tabs.

import type { TokenStore, Tokens } from './tokens';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

type Lock = <T>(name: string, work: () => Promise<T>) => Promise<T>;

export interface ApiClientOptions {
  tokens: TokenStore;
  /** Prefix of every path; `/api/v1` in the app. */
  baseUrl?: string;
  fetch?: typeof fetch;
  /** Called once when the login is gone (refresh refused). */
  onSignedOut?: () => void;
  /** Makes the XMLHttpRequest of an upload (fetch reports no upload progress). */
  xhr?: () => XMLHttpRequest;
  /** Serializes refreshes across tabs; defaults to `navigator.locks` when present. */
  lock?: Lock;
}

export interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | null | undefined>;
  signal?: AbortSignal;
  /** Send the access token (default true). */
  auth?: boolean;
  headers?: Record<string, string>;
}

function defaultLock(): Lock | undefined {
  const locks = typeof navigator !== 'undefined' ? (navigator as Navigator & { locks?: LockManager }).locks : undefined;
  if (!locks) return undefined;
  return (name, work) => locks.request(name, work) as Promise<never>;
}

export function buildQuery(query: RequestOptions['query']): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null || value === '') continue;
    params.set(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Reads the product API's `{"error": {code, message}}`, tolerating any other body. */
export async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  return errorFromBody(response.status, response.statusText, text);
}

/** The ApiError of a status and a body text (fetch and XMLHttpRequest answers alike). */
export function errorFromBody(status: number, statusText: string, text: string): ApiError {
  let code = 'http_' + status;
  let message = statusText || `HTTP ${status}`;
  try {
    const body = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (body?.error?.code) code = body.error.code;
    if (body?.error?.message) message = body.error.message;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): keep the status line.
  }
  return new ApiError(status, code, message);
}

export interface UploadOptions {
  /** Bytes of the request body sent so far, and the total. */
  onProgress?: (loaded: number, total: number) => void;
  signal?: AbortSignal;
}

interface RawAnswer {
  status: number;
  statusText: string;
  text: string;
}

export class ApiClient {
  private readonly tokens: TokenStore;
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly onSignedOut: (() => void) | undefined;
  private readonly lock: Lock | undefined;
  private readonly makeXhr: () => XMLHttpRequest;
  private refreshing: Promise<boolean> | null = null;

  constructor(options: ApiClientOptions) {
    this.tokens = options.tokens;
    this.baseUrl = options.baseUrl ?? '/api/v1';
    // Resolved per call so tests (and polyfills) may replace globalThis.fetch later.
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.onSignedOut = options.onSignedOut;
    this.lock = options.lock ?? defaultLock();
    this.makeXhr = options.xhr ?? (() => new XMLHttpRequest());
  }

  get signedIn(): boolean {
    return this.tokens.get() !== null;
  }

  setTokens(tokens: Tokens): void {
    this.tokens.set(tokens);
  }

  clearTokens(): void {
    this.tokens.clear();
  }

  url(path: string, query?: RequestOptions['query']): string {
    return this.baseUrl + path + buildQuery(query);
  }

  /**
   * A fetch with the access token that refreshes and retries once on 401. Streams and
   * downloads use it directly; JSON calls go through `request`.
   */
  async authorizedFetch(path: string, init: RequestInit = {}, query?: RequestOptions['query']): Promise<Response> {
    const url = this.url(path, query);
    const sent = this.tokens.get();
    const response = await this.fetchImpl(url, withToken(init, sent?.access_token));
    if (response.status !== 401 || !sent) return response;
    const refreshed = await this.refresh(sent.access_token);
    if (!refreshed) return response;
    return this.fetchImpl(url, withToken(init, this.tokens.get()?.access_token));
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    const init: RequestInit = { method, headers };
    if (options.signal) init.signal = options.signal;
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const response =
      options.auth === false
        ? await this.fetchImpl(this.url(path, options.query), init)
        : await this.authorizedFetch(path, init, options.query);
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * POSTs a multipart form with upload progress (XMLHttpRequest), with the same token, one
   * refresh-and-retry on 401, and error shape as `request`.
   */
  async upload<T>(path: string, form: FormData, options: UploadOptions = {}): Promise<T> {
    const sent = this.tokens.get();
    let answer = await this.sendForm(path, form, sent?.access_token, options);
    if (answer.status === 401 && sent && (await this.refresh(sent.access_token))) {
      answer = await this.sendForm(path, form, this.tokens.get()?.access_token, options);
    }
    if (answer.status < 200 || answer.status >= 300) throw errorFromBody(answer.status, answer.statusText, answer.text);
    return (answer.text ? JSON.parse(answer.text) : undefined) as T;
  }

  private sendForm(path: string, form: FormData, access: string | undefined, options: UploadOptions): Promise<RawAnswer> {
    return new Promise((resolve, reject) => {
      const xhr = this.makeXhr();
      const abort = () => xhr.abort();
      if (options.signal?.aborted) {
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
        return;
      }
      options.signal?.addEventListener('abort', abort, { once: true });
      const settle = () => options.signal?.removeEventListener('abort', abort);
      xhr.open('POST', this.url(path));
      xhr.setRequestHeader('Accept', 'application/json');
      if (access) xhr.setRequestHeader('Authorization', `Bearer ${access}`);
      if (options.onProgress) {
        const report = options.onProgress;
        xhr.upload.addEventListener('progress', (event) => report(event.loaded, event.lengthComputable ? event.total : 0));
      }
      xhr.addEventListener('load', () => {
        settle();
        resolve({ status: xhr.status, statusText: xhr.statusText, text: xhr.responseText });
      });
      xhr.addEventListener('error', () => {
        settle();
        reject(new ApiError(0, 'network_error', 'The upload failed: the server could not be reached.'));
      });
      xhr.addEventListener('abort', () => {
        settle();
        reject(new DOMException('The upload was cancelled.', 'AbortError'));
      });
      xhr.send(form);
    });
  }

  get<T>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('GET', path, options);
  }
  post<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('POST', path, { ...options, body: body ?? {} });
  }
  put<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PUT', path, { ...options, body });
  }
  patch<T>(path: string, body?: unknown, options?: RequestOptions): Promise<T> {
    return this.request<T>('PATCH', path, { ...options, body });
  }
  delete<T = void>(path: string, options?: RequestOptions): Promise<T> {
    return this.request<T>('DELETE', path, options);
  }

  /**
   * Trades the refresh token for a new pair. `failedAccess` is the token the server refused:
   * when the stored one differs, another call (or tab) already refreshed and we just retry.
   * Resolves false when the login is gone.
   */
  refresh(failedAccess?: string): Promise<boolean> {
    if (!this.refreshing) {
      const run = () => this.refreshNow(failedAccess);
      const pending = this.lock ? this.lock('oblivious-token-refresh', run) : run();
      this.refreshing = pending.finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async refreshNow(failedAccess?: string): Promise<boolean> {
    const current = this.tokens.get();
    if (!current) return false;
    if (failedAccess !== undefined && current.access_token !== failedAccess) return true;
    const response = await this.fetchImpl(this.url('/auth/refresh'), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh_token: current.refresh_token }),
    });
    if (response.ok) {
      const pair = (await response.json()) as Tokens;
      this.tokens.set({ access_token: pair.access_token, refresh_token: pair.refresh_token });
      return true;
    }
    // 401/403: the refresh token is spent, expired or the account disabled: signed out.
    // Anything else (502 while the server restarts) keeps the tokens for a later try.
    if (response.status === 401 || response.status === 403) {
      this.tokens.clear();
      this.onSignedOut?.();
    }
    return false;
  }
}

function withToken(init: RequestInit, access: string | undefined): RequestInit {
  const headers = new Headers(init.headers);
  if (access) headers.set('Authorization', `Bearer ${access}`);
  return { ...init, headers };
}
