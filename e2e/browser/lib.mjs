// Shared by run.mjs and bench.mjs: where the server is (OBLIVIOUS_URL, or one started here
// from OBLIVIOUS_BIN), launching Debian's Chromium through playwright-core with a fresh
// profile, small API helpers, and a step runner that records failures and screenshots.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = dirname(fileURLToPath(import.meta.url));
export const REPO = join(HERE, '..', '..');
export const SCREENSHOTS = join(HERE, 'screenshots');

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export function log(...parts) {
  console.log(`[${new Date().toISOString().slice(11, 23)}]`, ...parts);
}

/** A TCP port nobody listens on now (the server under test's, or a helper's). */
export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitReady(url, child, deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode} before it was ready`);
    try {
      const response = await fetch(`${url}/readyz`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url}/readyz did not answer within ${deadlineMs} ms`);
}

/**
 * The server under test. OBLIVIOUS_URL: use it as is (OBLIVIOUS_ADMIN_KEY, if set, is an admin
 * API key of it). Else OBLIVIOUS_BIN: start `oblivious dev` with crds/examples plus
 * manifests/*.yaml, a fresh data dir, a free port and a random bootstrap admin key.
 * Else `--fake` / OBLIVIOUS_FAKE=1: start fake-api.mjs (developing the tests without Rust).
 * Else the debug build where `cargo build` puts it ($CARGO_TARGET_DIR or ~/.cache/oblivious/target).
 * `extraManifests` ({name, text}) are written beside the copied ones when a server is started here
 * (manifests known only at run time, e.g. a tool server's path); `env` is added to its environment.
 */
export async function startTarget({ initialBalance = '0', extraManifests = [], env = {} } = {}) {
  if (process.env.OBLIVIOUS_URL) {
    return { url: process.env.OBLIVIOUS_URL.replace(/\/$/, ''), adminKey: process.env.OBLIVIOUS_ADMIN_KEY, stop: async () => undefined };
  }
  const fake = Boolean(process.env.OBLIVIOUS_FAKE) || process.argv.includes('--fake');
  if (!process.env.OBLIVIOUS_BIN && !fake) {
    const built = join(process.env.CARGO_TARGET_DIR ?? join(homedir(), '.cache', 'oblivious', 'target'), 'debug', 'oblivious');
    const found = await access(built, constants.X_OK).then(() => true, () => false);
    if (found) process.env.OBLIVIOUS_BIN = built;
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const work = await mkdtemp(join(tmpdir(), 'oblivious-browser-'));
  let child;
  let adminKey;
  if (process.env.OBLIVIOUS_BIN) {
    const manifests = join(work, 'manifests');
    await mkdir(manifests);
    for (const dir of [join(REPO, 'crds', 'examples'), join(HERE, 'manifests')]) {
      for (const name of await readdir(dir)) {
        if (name.endsWith('.yaml') || name.endsWith('.yml')) await cp(join(dir, name), join(manifests, name));
      }
    }
    for (const { name, text } of extraManifests) await writeFile(join(manifests, name), text);
    adminKey = `sk-browser-admin-${randomBytes(16).toString('hex')}`;
    const args = ['dev', '--manifests', manifests, '--data-dir', join(work, 'data'), '--listen', `127.0.0.1:${port}`];
    log('starting', process.env.OBLIVIOUS_BIN, args.join(' '));
    child = spawn(process.env.OBLIVIOUS_BIN, args, {
      env: { ...process.env, ...env, OBLIVIOUS_BOOTSTRAP_KEY: adminKey, OBLIVIOUS_INITIAL_BALANCE: initialBalance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else if (fake) {
    child = spawn(process.execPath, [join(HERE, 'fake-api.mjs'), String(port)], {
      env: { ...process.env, FAKE_INITIAL_BALANCE: initialBalance },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } else {
    throw new Error('no server: set OBLIVIOUS_URL (a running server) or OBLIVIOUS_BIN (start one), build it (`cargo build --bin oblivious`), or pass --fake');
  }
  const output = [];
  const keep = (chunk) => {
    output.push(chunk.toString());
    if (output.length > 400) output.shift();
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  await waitReady(url, child, 60_000).catch((error) => {
    child.kill('SIGTERM');
    throw new Error(`${error.message}\n--- server output ---\n${output.join('')}`);
  });
  log('server ready at', url);
  return {
    url,
    adminKey,
    serverLog: () => output.join(''),
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => {
          const timer = setTimeout(() => {
            child.kill('SIGKILL');
            resolve();
          }, 10_000);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      await rm(work, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** Chromium with a fresh profile directory (a persistent context owns its --user-data-dir). */
export async function launchBrowser(options = {}) {
  const profile = await mkdtemp(join(tmpdir(), 'oblivious-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1366, height: 860 },
    colorScheme: 'light',
    locale: 'en-US',
    ...options,
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true }).catch(() => undefined);
    },
  };
}

/** A JSON call to the product API from Node. */
export async function api(base, method, path, { token, body } = {}) {
  const response = await fetch(`${base}/api/v1${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : undefined;
  if (!response.ok) throw new Error(`${method} ${path} -> ${response.status} ${text}`);
  return data;
}

/** Reads a chat stream until `done` or `error`; resolves to that event's data. */
export async function readStreamToEnd(base, token, streamId) {
  const response = await fetch(`${base}/api/v1/chat/streams/${streamId}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' },
  });
  if (!response.ok) throw new Error(`stream ${streamId} -> ${response.status}`);
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = blocks.pop() ?? '';
    for (const block of blocks) {
      const type = /^event: ?(.*)$/m.exec(block)?.[1];
      if (type === 'done' || type === 'error') {
        const data = block.split(/\r?\n/).filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        return { type, data: JSON.parse(data) };
      }
    }
  }
  throw new Error(`stream ${streamId} ended without done`);
}

export class AssertionError extends Error {}

export function assert(condition, message) {
  if (!condition) throw new AssertionError(message);
}

/** Runs named steps in order; a failed step is recorded (with a screenshot) and the run goes on
 *  only when the step is marked independent. */
export class Steps {
  constructor(getPage) {
    this.getPage = getPage;
    this.results = [];
    const list = (name) => new Set((process.env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
    this.skip = list('OBLIVIOUS_E2E_SKIP');
    // OBLIVIOUS_E2E_ONLY: run just these steps (name the steps they build on too, e.g.
    // register,login,redeem,models,knowledge).
    this.only = list('OBLIVIOUS_E2E_ONLY');
  }

  async run(id, title, work, { independent = false } = {}) {
    if (this.skip.has(id) || (this.only.size > 0 && !this.only.has(id))) {
      log(`SKIP ${id}: ${title}`);
      this.results.push({ id, title, status: 'skipped' });
      return true;
    }
    const started = Date.now();
    log(`RUN  ${id}: ${title}`);
    try {
      await work();
      log(`PASS ${id} (${Date.now() - started} ms)`);
      this.results.push({ id, title, status: 'passed', ms: Date.now() - started });
      return true;
    } catch (error) {
      log(`FAIL ${id}: ${error?.stack ?? error}`);
      this.results.push({ id, title, status: 'failed', error: String(error?.message ?? error) });
      const page = this.getPage();
      if (page && !page.isClosed()) {
        await mkdir(SCREENSHOTS, { recursive: true });
        await page.screenshot({ path: join(SCREENSHOTS, `FAILED-${id}.png`), fullPage: false }).catch(() => undefined);
      }
      if (!independent) throw new StopRun();
      return false;
    }
  }

  summary() {
    const count = (status) => this.results.filter((r) => r.status === status).length;
    return { passed: count('passed'), failed: count('failed'), skipped: count('skipped') };
  }
}

export class StopRun extends Error {}

export async function screenshot(page, name) {
  await mkdir(SCREENSHOTS, { recursive: true });
  // Let fonts and layout settle: wait for the fonts to load, then one frame.
  await page.evaluate(async () => {
    await document.fonts.ready;
    await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path });
  log('screenshot', path);
}
