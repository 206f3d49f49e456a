// Browser end-to-end test of the web UI against a real server (see README.md): register, sign
// in, the default model of blank chats, chat with streaming, stop, regenerate, edit-and-branch,
// switch branches, reload and find the history, close the page mid-answer and come back to the
// finished reply, agents, keys, admin pages, language and theme, the phone layout, knowledge
// bases with sourced replies and composer attachments, MCP tool calls in replies (cards,
// approval), the user's own MCP server turned on for a chat, keyboard use and focus, and an
// axe-core accessibility scan.
// Screenshots go to screenshots/. Every wait is for a condition (a selector, a text, an
// attribute, the focused element), never a fixed sleep.
// Exits non-zero when any step fails.

import { execFile, spawn } from 'node:child_process';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { axeViolations, describeViolations, failingViolations, waitForFocus } from './a11y.mjs';
import { api, assert, freePort, HERE, launchBrowser, log, REPO, screenshot, startTarget, Steps, StopRun } from './lib.mjs';

const FAST_MODEL = process.env.OBLIVIOUS_FAST_MODEL ?? 'gpt-4o-mini';
const SLOW_CANDIDATES = process.env.OBLIVIOUS_SLOW_MODEL ? [process.env.OBLIVIOUS_SLOW_MODEL] : ['browser-slow', 'gpt-4o-mini-slow'];
// Words each slow model answers (the mock answers exactly `words=N`).
const SLOW_WORDS = { 'browser-slow': 60, 'gpt-4o-mini-slow': 30 };
const REASONING_MODEL = process.env.OBLIVIOUS_REASONING_MODEL ?? 'browser-reasoning';
const TIMEOUT = Number(process.env.OBLIVIOUS_E2E_TIMEOUT_MS ?? 20_000);
const LONG = 60_000;
const DESKTOP = { width: 1366, height: 860 };
const PHONE = { width: 390, height: 844 };

const suffix = randomBytes(4).toString('hex');
const USER = { username: `browser-${suffix}`, email: `browser-${suffix}@example.test`, password: `Browser-pass-${suffix}!` };
const FIRST_QUESTION = `Hello from the browser test ${suffix}`;
const EMBEDDING_MODEL = process.env.OBLIVIOUS_EMBEDDING_MODEL ?? 'text-embedding-3-small';
const KB_NAME = `E2E handbook ${suffix}`;
const KB_FILE = `handbook-${suffix}.md`;
const KB_DOCUMENT = `# Customer handbook

## Refunds

Refunds are paid back to the original card within fourteen days of the request. Quote the order number with every refund request.

## Shipping

Shipping is free for orders over fifty euros. Parcels leave the warehouse on weekdays.
`;
const EDITED_QUESTION = `Edited question ${suffix}`;
// The catalog agents of manifests/browser-tools.yaml.tmpl, and its model that calls `echo`.
const TOOLS_AGENT = 'Browser toolsmith';
const TOOLS_MODEL = 'browser-tools';
const USER_SERVER = `Browser echo ${suffix}`;
const APPROVAL_AGENT = 'Browser careful toolsmith';
const FAKE = process.argv.includes('--fake') || Boolean(process.env.OBLIVIOUS_FAKE);

/**
 * The MCP reference server's entry point (scripts/mcp-everything, or $OBLIVIOUS_TEST_MCP_EVERYTHING);
 * null with --fake or when it cannot be installed (logged; the steps needing it are skipped then).
 */
async function mcpEverything() {
  if (FAKE) return null;
  if (process.env.OBLIVIOUS_TEST_MCP_EVERYTHING) return process.env.OBLIVIOUS_TEST_MCP_EVERYTHING;
  try {
    return (await promisify(execFile)(join(REPO, 'scripts', 'mcp-everything'))).stdout.trim();
  } catch (error) {
    log(`scripts/mcp-everything failed, so the tools steps are skipped: ${error.message}`);
    return null;
  }
}

/**
 * manifests/browser-tools.yaml.tmpl with the MCP reference server's entry point filled in, for a
 * server started here; null against OBLIVIOUS_URL (which must have it loaded) or without the
 * reference server.
 */
async function toolsManifest(entry) {
  if (process.env.OBLIVIOUS_URL || !entry) return null;
  const template = await readFile(join(HERE, 'manifests', 'browser-tools.yaml.tmpl'), 'utf8');
  return template.replaceAll('${MCP_EVERYTHING}', JSON.stringify(entry));
}

/**
 * The reference server over Streamable HTTP on a free port (http://127.0.0.1:<port>/mcp), for
 * the `user-tools` step to add as the user's own server; resolves once it listens.
 */
async function startHttpMcpServer(entry) {
  const port = await freePort();
  const child = spawn(process.execPath, [entry, 'streamableHttp'], {
    env: { ...process.env, PORT: String(port), NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the MCP server did not listen within ${TIMEOUT} ms:\n${output}`)), TIMEOUT);
    const seen = (chunk) => {
      output += chunk.toString();
      if (output.includes('listening on port')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the MCP server exited with ${code} before it listened:\n${output}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

const mcpEntry = await mcpEverything();
const tools = await toolsManifest(mcpEntry);
const target = await startTarget({
  initialBalance: '0',
  extraManifests: tools ? [{ name: 'browser-tools.yaml', text: tools }] : [],
  // Users may add their own MCP servers, even on loopback (the `user-tools` step's is).
  // Users may add their own MCP servers and webhooks, even on loopback (the `user-tools` and
  // `webhooks` steps' are).
  env: {
    OBLIVIOUS_USER_TOOL_SERVERS: 'true',
    OBLIVIOUS_USER_TOOL_PRIVATE_ADDRESSES: 'true',
    OBLIVIOUS_WEBHOOK_PRIVATE_ADDRESSES: 'true',
  },
});
const browser = await launchBrowser();
let page = await browser.context.newPage();
const steps = new Steps(() => page);
if (FAKE) {
  // fake-api.mjs has no files, knowledge bases or tools.
  steps.skip.add('knowledge');
  steps.skip.add('attach');
}
if (!tools && !process.env.OBLIVIOUS_URL) {
  steps.skip.add('tools');
  steps.skip.add('tools-approval');
}
if (!mcpEntry) steps.skip.add('user-tools');
const base = target.url;
const at = (path) => `${base}${path}`;
const byTestId = (id) => `[data-testid="${id}"]`;
const MESSAGES = '[data-testid="message"]';

function preparePage(p) {
  p.setDefaultTimeout(TIMEOUT);
  p.on('pageerror', (error) => log('page error:', error.message));
  p.on('console', (message) => {
    if (message.type() === 'error') log('console error:', message.text());
  });
}
preparePage(page);

/** The product API from inside the page, with the page's own access token. */
/** A request with the page's tokens: its status and text, whatever the status. */
async function pageRequest(method, path, body) {
  return page.evaluate(
    async ({ method, path, body }) => {
      const tokens = JSON.parse(localStorage.getItem('oblivious.auth') ?? 'null');
      const response = await fetch(`/api/v1${path}`, {
        method,
        headers: { 'Content-Type': 'application/json', ...(tokens ? { Authorization: `Bearer ${tokens.access_token}` } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, text: await response.text() };
    },
    { method, path, body },
  );
}

async function pageApi(method, path, body) {
  const answer = await pageRequest(method, path, body);
  assert(answer.status < 400, `${method} ${path} answered ${answer.status}: ${answer.text}`);
  return answer.text ? JSON.parse(answer.text) : undefined;
}

/** What the last message of a role shows: id, status, text, word count, sibling position. */
async function lastMessage(role = 'assistant') {
  return page.evaluate(
    ({ selector, role }) => {
      const all = [...document.querySelectorAll(`${selector}[data-role="${role}"]`)];
      const last = all[all.length - 1];
      if (!last) return null;
      const text = last.querySelector('[data-testid="message-content"]')?.innerText.trim() ?? '';
      return {
        id: last.dataset.id,
        status: last.dataset.status,
        text,
        words: text ? text.split(/\s+/).length : 0,
        position: last.querySelector('[data-testid="sibling-position"]')?.textContent?.replace(/\s+/g, ' ').trim() ?? null,
        hasMeta: Boolean(last.querySelector('[data-testid="message-meta"]')),
        hasReasoning: Boolean(last.querySelector('[data-testid="message-reasoning"]')),
      };
    },
    { selector: MESSAGES, role },
  );
}

/** Waits until the last message of `role` satisfies `check` (a function of lastMessage()). */
async function waitLast(role, description, check, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let seen = null;
  while (Date.now() < deadline) {
    seen = await lastMessage(role);
    if (seen && check(seen)) return seen;
    // Poll on the next frames rather than a fixed sleep.
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 50))));
  }
  throw new Error(`timed out waiting for the last ${role} message to be ${description}; last seen: ${JSON.stringify(seen)}`);
}

async function pickModel(model) {
  await page.click(byTestId('model-picker'));
  await page.click(`[data-testid="model-option"][data-model="${model}"]`);
  await page.waitForFunction((m) => document.querySelector('[data-testid="model-current"]')?.textContent === m, model);
}

async function sendMessage(text) {
  const before = await page.locator(`${MESSAGES}[data-role="user"]`).count();
  await page.fill(byTestId('composer-input'), text);
  await page.press(byTestId('composer-input'), 'Enter');
  await waitLast('user', `"${text}"`, (m) => m.text === text);
  assert((await page.locator(`${MESSAGES}[data-role="user"]`).count()) >= Math.min(before + 1, 1), 'the user message is not shown');
}

/** A new chat with a catalog agent, from the New chat dialog (its "new chat" button). */
async function startAgentChat(name) {
  await page.click(byTestId('nav-chat'));
  await page.click(byTestId('new-session'));
  const fresh = page.locator(`li:has([data-testid="agent-option"][data-agent-name="${name}"]) ${byTestId('agent-option-fresh')}`);
  await fresh.waitFor().catch(() => {
    throw new Error(`no catalog agent "${name}": the server needs manifests/browser-tools.yaml.tmpl with the MCP server's path filled in (README)`);
  });
  await fresh.click();
  await page.waitForSelector(byTestId('chat-view'));
}

/** The first tool call card of the last reply with this status, once it is there. */
async function toolCard(status) {
  const card = page.locator(`${MESSAGES}[data-role="assistant"]`).last().locator(`${byTestId('tool-call')}[data-status="${status}"]`).first();
  await card.waitFor({ timeout: LONG });
  return card;
}

/** A webhook receiver on a free local port that keeps the requests it got, with whether their
 *  Standard Webhooks signature verifies under `secret()` (known once the hook exists). */
async function startWebhookReceiver(secret) {
  const port = await freePort();
  const received = [];
  const server = createServer((request, response) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const id = request.headers['webhook-id'] ?? '';
      const timestamp = request.headers['webhook-timestamp'] ?? '';
      const key = Buffer.from(String(secret()).replace(/^whsec_/, ''), 'base64');
      const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest();
      const verified = String(request.headers['webhook-signature'] ?? '')
        .split(' ')
        .map((part) => Buffer.from(part.replace(/^v1,/, ''), 'base64'))
        .some((given) => given.length === expected.length && timingSafeEqual(given, expected));
      received.push({ id, verified, event: JSON.parse(body || '{}') });
      response.writeHead(204).end();
    });
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}/hook`, received, stop: () => new Promise((resolve) => server.close(resolve)) };
}

/** What a tool call card shows. */
function readToolCard(card) {
  return card.evaluate((el) => {
    const text = (id) => el.querySelector(`[data-testid="${id}"]`)?.textContent ?? null;
    return {
      status: el.dataset.status,
      name: text('tool-call-name'),
      server: text('tool-call-server'),
      serverRef: el.querySelector('[data-testid="tool-call-server"]')?.getAttribute('data-ref') ?? null,
      badge: text('tool-call-status'),
      open: Boolean(el.querySelector('details')?.open),
      arguments: text('tool-call-arguments'),
      output: text('tool-call-output'),
    };
  });
}

async function messageAction(role, action) {
  const last = page.locator(`${MESSAGES}[data-role="${role}"]`).last();
  await last.hover();
  await last.locator(byTestId(action)).click();
}

let slowModel;
let slowWords;
let chatUrl;

try {
  await steps.run('register', 'register a new account in the UI', async () => {
    await page.goto(at('/'));
    await page.waitForSelector(byTestId('login-form'));
    await page.click(byTestId('to-register'));
    await page.fill(byTestId('auth-username'), USER.username);
    await page.fill(byTestId('auth-email'), USER.email);
    await page.fill(byTestId('auth-password'), USER.password);
    await page.click(byTestId('auth-submit'));
    await page.waitForSelector(byTestId('chat-page'));
    const profile = await pageApi('GET', '/user/profile');
    assert(profile.username === USER.username, `signed in as ${profile.username}`);
    if (profile.role !== 'admin') {
      // Only the first account of a server is an administrator; promote ours with the admin key.
      assert(target.adminKey, 'this account is not an admin: set OBLIVIOUS_ADMIN_KEY (an admin API key of the server) or use a fresh server');
      await api(base, 'PATCH', `/admin/users/${profile.id}`, { token: target.adminKey, body: { role: 'admin' } });
    }
  });

  await steps.run('login', 'sign out, then sign in again', async () => {
    await page.click(byTestId('logout'));
    await page.waitForSelector(byTestId('login-form'));
    assert((await page.evaluate(() => localStorage.getItem('oblivious.auth'))) === null, 'tokens survived the sign-out');
    await page.fill(byTestId('auth-username'), USER.username);
    await page.fill(byTestId('auth-password'), USER.password);
    await page.click(byTestId('auth-submit'));
    await page.waitForSelector(byTestId('chat-page'));
    await page.waitForSelector(byTestId('nav-admin'));
  });

  await steps.run('redeem', 'mint a redemption code as admin and redeem it for a balance', async () => {
    await page.click(byTestId('nav-admin'));
    await page.click(byTestId('admin-tab-codes'));
    await page.fill(byTestId('mint-count'), '1');
    await page.fill(byTestId('mint-amount'), '5');
    await page.click(byTestId('mint-submit'));
    const code = (await page.textContent(byTestId('minted-code')))?.trim();
    assert(code, 'no code was shown after minting');
    await page.click(byTestId('nav-account'));
    const before = await page.textContent(byTestId('account-balance'));
    await page.fill(byTestId('redeem-input'), code);
    await page.click(byTestId('redeem-submit'));
    await page.waitForFunction(
      (old) => {
        const text = document.querySelector('[data-testid="account-balance"]')?.textContent ?? '';
        return text !== old && /[1-9]/.test(text);
      },
      before,
    );
  });

  await steps.run('models', 'the model list has the models this test needs', async () => {
    const { models } = await pageApi('GET', '/models');
    const ids = models.map((m) => m.id);
    assert(ids.includes(FAST_MODEL), `model ${FAST_MODEL} is missing from /models: ${ids.join(', ')}`);
    slowModel = SLOW_CANDIDATES.find((m) => ids.includes(m));
    assert(slowModel, `no slow model (${SLOW_CANDIDATES.join(' or ')}) in /models: load e2e/browser/manifests/ (see README)`);
    slowWords = Number(process.env.OBLIVIOUS_SLOW_WORDS ?? SLOW_WORDS[slowModel] ?? 0);
  });

  await steps.run('default-model', 'pick a default model on the Account page; a new blank chat starts with it, and Automatic goes back', async () => {
    // A server that predates GET/PUT /chat/preferences hides the setting: nothing to check then.
    const probe = await pageRequest('GET', '/chat/preferences');
    if (probe.status === 404) {
      log('default-model: GET /chat/preferences answered 404 (the server predates it); the setting is hidden, not checked');
      await page.click(byTestId('nav-account'));
      await page.waitForSelector(byTestId('account-balance'));
      // Rendered with the page (loading), then gone once the 404 is in.
      await page.locator(byTestId('default-model')).waitFor({ state: 'detached' });
      return;
    }
    assert(probe.status === 200, `GET /chat/preferences answered ${probe.status}: ${probe.text}`);
    const before = JSON.parse(probe.text);
    const { models } = await pageApi('GET', '/models');
    // A model other than the one a blank chat gets now, so the check can fail.
    const chosen = [slowModel, REASONING_MODEL, FAST_MODEL, ...models.map((m) => m.id)].find(
      (id) => id && id !== before.blank_chat_model && models.some((m) => m.id === id),
    );
    assert(chosen, `no model besides ${before.blank_chat_model} to pick`);
    try {
      await page.click(byTestId('nav-account'));
      const select = page.locator(byTestId('default-model-select'));
      await select.waitFor();
      await select.selectOption(chosen);
      await page.waitForSelector(`${byTestId('blank-chat-model')}[data-model="${chosen}"]`);
      assert((await pageApi('GET', '/chat/preferences')).default_model === chosen, 'the choice was not saved');
      await screenshot(page, 'default-model');
      const { failing, other } = failingViolations(await axeViolations(page));
      if (other.length) log(`axe, default model (minor and moderate, not failing):\n${describeViolations(other)}`);
      assert(failing.length === 0, `accessibility violations on the Account page's Default model:\n${describeViolations(failing)}`);

      await page.click(byTestId('nav-chat'));
      await page.click(byTestId('new-session'));
      await page.click(byTestId('agent-option-blank'));
      await page.waitForSelector(byTestId('chat-view'));
      await page.waitForFunction((m) => document.querySelector('[data-testid="model-current"]')?.textContent === m, chosen).catch(async () => {
        throw new Error(`a new blank chat starts with "${await page.textContent(byTestId('model-current'))}", not the default ${chosen}`);
      });

      // Back to Automatic: the blank chat model is the server's own pick again.
      await page.click(byTestId('nav-account'));
      await select.waitFor();
      await select.selectOption('');
      await page.waitForSelector(`${byTestId('blank-chat-model')}[data-model="${before.blank_chat_model}"]`);
      assert((await pageApi('GET', '/chat/preferences')).default_model === null, 'Automatic did not clear the default');
    } finally {
      // Leave the account as the later steps expect it, whatever failed above.
      await pageRequest('PUT', '/chat/preferences', { default_model: before.default_model }).catch(() => undefined);
    }
  });

  await steps.run('send', 'create a chat, send a message and see the streamed reply with its cost', async () => {
    await page.click(byTestId('nav-chat'));
    await page.click(byTestId('new-session'));
    await page.click(byTestId('agent-option-blank'));
    await page.waitForSelector(byTestId('chat-view'));
    await pickModel(FAST_MODEL);
    await sendMessage(FIRST_QUESTION);
    const reply = await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
    assert(reply.text.startsWith('Mock'), `the reply does not look like the mock's: ${reply.text}`);
    await page.waitForSelector(`${MESSAGES}[data-role="assistant"] ${byTestId('message-meta')}`);
    const signedBy = await page.locator(`${MESSAGES}[data-role="assistant"] .message__author`).last().textContent();
    assert(signedBy === FAST_MODEL, `a blank chat's reply is signed by its model, not "${signedBy}"`);
    await page.waitForFunction(() => /\S/.test(document.querySelector('[data-testid="topic-current"]')?.textContent ?? ''));
    chatUrl = page.url();
    assert(/\/chat\/[^/]+\/[^/]+/.test(new URL(chatUrl).pathname), `the URL does not name the topic: ${chatUrl}`);
    await screenshot(page, 'chat');
  });

  await steps.run('regenerate', 'regenerate the reply, then switch between the two versions', async () => {
    const first = await lastMessage('assistant');
    await messageAction('assistant', 'action-regenerate');
    const second = await waitLast('assistant', 'a new complete sibling', (m) => m.id !== first.id && m.status === 'complete' && m.position === '2 / 2', LONG);
    await messageAction('assistant', 'sibling-prev');
    await waitLast('assistant', 'the first version', (m) => m.id === first.id && m.position === '1 / 2');
    await messageAction('assistant', 'sibling-next');
    await waitLast('assistant', 'the second version', (m) => m.id === second.id && m.position === '2 / 2');
  });

  await steps.run('edit', 'edit the question and resend (a branch), then switch branches', async () => {
    await messageAction('user', 'action-edit');
    await page.fill(byTestId('edit-input'), EDITED_QUESTION);
    await page.click(byTestId('edit-submit'));
    await waitLast('user', 'the edited question on branch 2 / 2', (m) => m.text === EDITED_QUESTION && m.position === '2 / 2');
    await waitLast('assistant', 'complete', (m) => m.status === 'complete' && m.position === null, LONG);
    await messageAction('user', 'sibling-prev');
    await waitLast('user', 'the original question', (m) => m.text === FIRST_QUESTION && m.position === '1 / 2');
    // The original branch still has its two regenerated replies.
    await waitLast('assistant', 'the original branch reply', (m) => m.position === '2 / 2');
    await messageAction('user', 'sibling-next');
    await waitLast('user', 'the edited question again', (m) => m.text === EDITED_QUESTION);
  });

  await steps.run('stop', 'a slow reply streams in, and Stop keeps what was generated', async () => {
    await pickModel(slowModel);
    await sendMessage('Tell me a long story');
    const streaming = await waitLast('assistant', 'streaming with text', (m) => m.status === 'streaming' && m.words >= 2, LONG);
    assert(streaming.text.startsWith('Mock'), `unexpected streamed text: ${streaming.text}`);
    await page.click(byTestId('stop-button'));
    const stopped = await waitLast('assistant', 'stopped', (m) => m.status === 'stopped', LONG);
    assert(stopped.words >= 2, 'the stopped reply lost its text');
    if (slowWords) assert(stopped.words < slowWords, `the reply was not stopped early (${stopped.words} of ${slowWords} words)`);
    await page.waitForSelector(byTestId('send-button'));
  });

  await steps.run('escape', 'Esc stops a streaming reply', async () => {
    await sendMessage('Another long story, please');
    await waitLast('assistant', 'streaming with text', (m) => m.status === 'streaming' && m.words >= 2, LONG);
    await page.keyboard.press('Escape');
    await waitLast('assistant', 'stopped', (m) => m.status === 'stopped', LONG);
  });

  await steps.run('reload', 'reload the page and find the history', async () => {
    const url = page.url();
    await page.reload();
    await page.waitForSelector(byTestId('chat-view'));
    await waitLast('user', 'the last question', (m) => m.text === 'Another long story, please');
    await waitLast('assistant', 'the stopped reply', (m) => m.status === 'stopped');
    assert(page.url() === url, `the reload moved to ${page.url()}`);
    const topics = await page.locator(byTestId('topic-item')).count();
    assert(topics >= 1, 'the topic list is empty after a reload');
    const users = await page.locator(`${MESSAGES}[data-role="user"]`).allInnerTexts();
    assert(users.some((t) => t.includes(EDITED_QUESTION)), 'the edited question is not in the history');
  });

  await steps.run('close-mid-stream', 'close the page mid-answer, reopen it, and find the finished reply', async () => {
    await sendMessage('Are you still there?');
    const streaming = await waitLast('assistant', 'streaming with text', (m) => m.status === 'streaming' && m.words >= 1, LONG);
    const url = page.url();
    await page.close();
    page = await browser.context.newPage();
    preparePage(page);
    await page.goto(url);
    await page.waitForSelector(byTestId('chat-view'));
    const finished = await waitLast('assistant', 'the same reply, complete', (m) => m.id === streaming.id && m.status === 'complete', LONG);
    if (slowWords) assert(finished.words === slowWords, `the finished reply has ${finished.words} words, expected ${slowWords}`);
    assert(finished.hasMeta, 'the finished reply shows no usage or cost');
  });

  await steps.run('reasoning', 'a reasoning model shows its thinking, collapsible', async () => {
    const { models } = await pageApi('GET', '/models');
    assert(models.some((m) => m.id === REASONING_MODEL), `no ${REASONING_MODEL} model (load e2e/browser/manifests/)`);
    await pickModel(REASONING_MODEL);
    await sendMessage('Think first, then answer');
    await waitLast('assistant', 'complete with reasoning', (m) => m.status === 'complete' && m.hasReasoning, LONG);
    await pickModel(FAST_MODEL);
  }, { independent: true });

  await steps.run('tools', 'a catalog agent with an MCP tool: a suggested question sent from the keyboard, a reply with a collapsed tool card that expands to the output, no axe violation, and the card after a reload', async () => {
    await startAgentChat(TOOLS_AGENT);
    const question = page.locator(byTestId('opening-question')).first();
    await question.waitFor();
    const asked = ((await question.textContent()) ?? '').trim();
    await question.focus();
    await page.keyboard.press('Enter');
    await waitLast('user', `the suggested question "${asked}"`, (m) => m.text === asked);
    const reply = await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
    assert(reply.text.startsWith('Mock result Echo: mock'), `the reply does not quote the tool's result: ${reply.text}`);

    const checkCard = async () => {
      const card = await toolCard('ok');
      const cards = await page.locator(`${MESSAGES}[data-role="assistant"]`).last().locator(byTestId('tool-call')).count();
      assert(cards === 1, `the reply shows ${cards} tool cards, not 1`);
      const collapsed = await readToolCard(card);
      assert(
        collapsed.name === 'echo' && collapsed.server === 'default/browser-everything' && collapsed.badge === 'Done',
        `the card does not name the tool, its server and its status: ${JSON.stringify(collapsed)}`,
      );
      assert(!collapsed.open && collapsed.output === null, `the card is not collapsed: ${JSON.stringify(collapsed)}`);
      await card.locator(byTestId('tool-call-toggle')).click();
      await card.locator(byTestId('tool-call-output')).waitFor();
      const expanded = await readToolCard(card);
      assert(expanded.output === 'Echo: mock', `the expanded card does not show the output: ${JSON.stringify(expanded)}`);
      assert(expanded.arguments?.includes('"message": "mock"'), `the expanded card does not show the arguments: ${JSON.stringify(expanded)}`);
    };
    await checkCard();
    await screenshot(page, 'tool-call');
    const { failing, other } = failingViolations(await axeViolations(page));
    if (other.length) log(`axe, tool card (minor and moderate, not failing):\n${describeViolations(other)}`);
    assert(failing.length === 0, `accessibility violations with a tool card open:\n${describeViolations(failing)}`);

    await page.reload();
    await page.waitForSelector(byTestId('chat-view'));
    await waitLast('assistant', 'the stored reply', (m) => m.status === 'complete');
    await checkCard();
  }, { independent: true });

  await steps.run('tools-approval', 'a tool that needs approval: the card waits with its arguments and Approve and Reject, survives a reload, runs once approved, and a rejected call is declined', async () => {
    await startAgentChat(APPROVAL_AGENT);
    await sendMessage(`Echo something, carefully ${suffix}`);
    let waiting = await toolCard('awaiting_approval');
    await waiting.locator(byTestId('tool-call-approve')).waitFor();
    const shown = await readToolCard(waiting);
    assert(shown.arguments?.includes('"message": "mock"'), `the waiting card does not show what it asks to run: ${JSON.stringify(shown)}`);
    await screenshot(page, 'tool-approval');
    // The stream replays from its first event: the card waits again, with its buttons.
    await page.reload();
    await page.waitForSelector(byTestId('chat-view'));
    waiting = await toolCard('awaiting_approval');
    await waiting.locator(byTestId('tool-call-approve')).click();
    await toolCard('ok');
    const approved = await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
    assert(approved.text.startsWith('Mock result Echo: mock'), `the approved call's reply does not quote it: ${approved.text}`);
    assert((await page.locator(byTestId('tool-call-approve')).count()) === 0, 'the Approve button outlived the decision');

    await sendMessage(`Echo again, and I will say no ${suffix}`);
    waiting = await toolCard('awaiting_approval');
    await waiting.locator(byTestId('tool-call-reject')).click();
    const declined = await toolCard('rejected');
    assert((await readToolCard(declined)).badge === 'Declined', 'the rejected call is not shown as declined');
    await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
  }, { independent: true });

  await steps.run('user-tools', "the user's own MCP server: added on the Account page (a refused URL shown beside its field), turned on in a chat's settings, and called by the reply", async () => {
    const mcp = await startHttpMcpServer(mcpEntry);
    try {
      await page.click(byTestId('nav-account'));
      const section = page.locator(byTestId('tool-servers'));
      await section.waitFor();
      const form = section.locator(byTestId('tool-server-form'));
      await form.waitFor().catch(async () => {
        const refused = await section.locator(byTestId('user-tool-servers-disabled')).count();
        throw new Error(refused ? 'the server does not allow users\' tool servers: start it with OBLIVIOUS_USER_TOOL_SERVERS=true' : 'no form to add a tool server');
      });
      const secret = `secret-${suffix}`;
      await form.locator(byTestId('tool-server-name')).fill(USER_SERVER);
      // A scheme the platform refuses: the server's 400 goes beside the URL field.
      await form.locator(byTestId('tool-server-url')).fill(mcp.url.replace(/^http:/, 'ftp:'));
      await form.locator(byTestId('tool-server-header-add')).click();
      await form.locator(byTestId('tool-server-header-name')).fill('X-Browser-Test');
      await form.locator(byTestId('tool-server-header-value')).fill(secret);
      assert((await form.locator(byTestId('tool-server-header-value')).getAttribute('type')) === 'password', 'the header value is not a password input');
      await form.locator(byTestId('tool-server-add')).click();
      const urlError = form.locator(byTestId('tool-server-url-error'));
      await urlError.waitFor();
      assert((await form.locator(byTestId('tool-server-url')).getAttribute('aria-invalid')) === 'true', 'the refused URL is not marked invalid');
      log('refused URL:', await urlError.textContent());
      await form.locator(byTestId('tool-server-url')).fill(mcp.url);
      await form.locator(byTestId('tool-server-add')).click();
      const row = section.locator(`${byTestId('user-tool-server')}[data-name="${USER_SERVER}"]`);
      await row.waitFor();
      const ref = await row.getAttribute('data-ref');
      assert(ref?.startsWith('user:'), `the new server's ref is not user:…: ${ref}`);
      const headers = (await row.locator(byTestId('user-tool-server-headers')).textContent()) ?? '';
      assert(/x-browser-test/i.test(headers), `the server's header names are not shown: ${headers}`);
      assert(!(await page.content()).includes(secret), 'the header value is shown back');
      await screenshot(page, 'tool-servers');
      const { failing, other } = failingViolations(await axeViolations(page));
      if (other.length) log(`axe, tool servers (minor and moderate, not failing):\n${describeViolations(other)}`);
      assert(failing.length === 0, `accessibility violations on the Account page with a tool server:\n${describeViolations(failing)}`);

      // A blank chat on the model that calls `echo`, with the server turned on in its settings.
      await page.click(byTestId('nav-chat'));
      await page.click(byTestId('new-session'));
      await page.click(byTestId('agent-option-blank'));
      await page.waitForSelector(byTestId('chat-view'));
      await pickModel(TOOLS_MODEL);
      await page.click(byTestId('session-settings-open'));
      const option = page.locator(`${byTestId('session-tool-option')}[data-ref="${ref}"]`);
      await option.check();
      await screenshot(page, 'session-tools');
      await page.click(byTestId('session-settings-save'));
      const indicator = page.locator(`${byTestId('chat-tools')}[data-count="1"]`);
      await indicator.waitFor();
      const label = await indicator.getAttribute('aria-label');
      assert(label?.includes(USER_SERVER), `the tools indicator does not name the server: ${label}`);

      await sendMessage(`Echo through my own server ${suffix}`);
      const reply = await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
      assert(reply.text.startsWith('Mock result Echo: mock'), `the reply does not quote the tool's result: ${reply.text}`);
      const card = await toolCard('ok');
      const collapsed = await readToolCard(card);
      assert(
        collapsed.name === 'echo' && collapsed.server === USER_SERVER && collapsed.serverRef === ref,
        `the card does not name echo on ${USER_SERVER} (${ref}): ${JSON.stringify(collapsed)}`,
      );
      await card.locator(byTestId('tool-call-toggle')).click();
      await card.locator(byTestId('tool-call-output')).waitFor();
      const expanded = await readToolCard(card);
      assert(expanded.output === 'Echo: mock', `the expanded card does not show the output: ${JSON.stringify(expanded)}`);
      await screenshot(page, 'user-tool-call');
    } finally {
      await mcp.stop();
    }
  }, { independent: true });

  await steps.run('webhooks', 'a webhook on the Account page: its secret shown once, a test ping signed with it reaches a local receiver, and the delivery shows as delivered', async () => {
    let secret = '';
    const receiver = await startWebhookReceiver(() => secret);
    try {
      await page.click(byTestId('nav-account'));
      const form = page.locator(byTestId('webhook-form'));
      await form.waitFor();
      await form.locator(byTestId('webhook-url')).fill(receiver.url);
      await form.locator(`${byTestId('webhook-event')}[data-event="reply.completed"]`).check();
      await form.locator(byTestId('webhook-add')).click();
      const shown = page.locator(byTestId('webhook-secret-value'));
      await shown.waitFor();
      secret = await shown.inputValue();
      assert(secret.startsWith('whsec_'), `the new webhook's secret is not shown: ${secret}`);
      await screenshot(page, 'webhooks');
      const hook = page.locator(byTestId('webhook')).filter({ hasText: receiver.url });
      await hook.locator(byTestId('webhook-test')).click();
      const deadline = Date.now() + LONG;
      while (!receiver.received.length && Date.now() < deadline) await page.waitForTimeout(100);
      const [ping] = receiver.received;
      assert(ping, 'the test ping never reached the receiver');
      assert(ping.verified, `the ping's signature does not verify with the secret shown: ${JSON.stringify(ping)}`);
      assert(ping.event.type === 'ping' && ping.id === ping.event.id, `not a ping with its event id as webhook-id: ${JSON.stringify(ping)}`);
      await hook.locator(byTestId('webhook-deliveries-toggle')).click();
      const delivered = hook.locator(`${byTestId('delivery')}[data-status="delivered"]`);
      await delivered.first().waitFor({ timeout: LONG });
      // Shown once: read again, the list has no secret.
      await page.reload();
      await page.locator(byTestId('webhook')).filter({ hasText: receiver.url }).waitFor();
      assert((await page.locator(byTestId('webhook-secret-value')).count()) === 0, 'the secret is shown again after a reload');
      assert(!(await page.content()).includes(secret), 'the secret is still somewhere on the page');
    } finally {
      await receiver.stop();
    }
  }, { independent: true });

  await steps.run('knowledge', 'a knowledge base: upload Markdown, see it indexed, link it to a chat, get a sourced reply and open the passage', async () => {
    await page.click(byTestId('nav-knowledge'));
    await page.waitForSelector(byTestId('knowledge-page'));
    await page.click(byTestId('kb-create'));
    await page.fill(byTestId('kb-name'), KB_NAME);
    await page.fill(byTestId('kb-description'), 'Refund and shipping rules for the browser test.');
    await page.fill(byTestId('kb-embedding-model'), EMBEDDING_MODEL);
    await screenshot(page, 'knowledge-create');
    await page.click(byTestId('kb-save'));
    await page.waitForSelector(`${byTestId('kb-title')} >> text=${KB_NAME}`);
    await page.setInputFiles(byTestId('kb-file-input'), { name: KB_FILE, mimeType: 'text/markdown', buffer: Buffer.from(KB_DOCUMENT) });
    // queued -> parsing -> chunking -> embedding -> indexed (or failed, with its reason).
    const row = `[data-testid="kb-file"][data-name="${KB_FILE}"]`;
    await page.waitForSelector(`${row}[data-status="indexed"], ${row}[data-status="failed"]`, { timeout: LONG });
    const status = await page.getAttribute(row, 'data-status');
    assert(status === 'indexed', `the file was not indexed: ${await page.textContent(row)}`);
    await screenshot(page, 'knowledge-base');

    await page.fill(byTestId('kb-test-query'), 'How long until refunds are paid?');
    await page.click(byTestId('kb-test-run'));
    await page.waitForSelector(`${byTestId('kb-hit-file')} >> text=${KB_FILE}`);

    // A new chat that draws on the base.
    await page.click(byTestId('nav-chat'));
    await page.click(byTestId('new-session'));
    await page.click(byTestId('agent-option-blank'));
    await page.waitForSelector(byTestId('chat-view'));
    await pickModel(FAST_MODEL);
    await page.click(byTestId('session-settings-open'));
    await page.check(`[data-testid="session-kb-option"][data-kb-name="${KB_NAME}"]`);
    await page.click(byTestId('session-settings-save'));
    await page.waitForSelector(`${byTestId('chat-knowledge')}[data-count="1"]`);

    await sendMessage(`How many days until refunds are paid back? ${suffix}`);
    await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
    const reply = page.locator(`${MESSAGES}[data-role="assistant"]`).last();
    await reply.locator(byTestId('message-sources')).waitFor();
    const toggle = (await reply.locator(byTestId('message-sources-toggle')).textContent()) ?? '';
    assert(/Sources \([1-9]\d*\)/.test(toggle), `the reply shows no sources: "${toggle}"`);
    // The mock cites its first source as a model does ("[1]"): the chip previews the passage
    // on focus and opens it on click.
    const openChip = async (message) => {
      const chip = message.locator(byTestId('citation-chip')).first();
      await chip.waitFor();
      await chip.focus();
      const preview = (await page.textContent(byTestId('citation-preview'))) ?? '';
      assert(preview.includes(KB_FILE), `the citation's preview does not name the file: "${preview}"`);
      await chip.click();
      await page.waitForSelector(byTestId('source-panel'));
      await page.waitForFunction(
        () => (document.querySelector('[data-testid="source-passage"]')?.textContent ?? '').includes('fourteen days'),
        undefined,
        { timeout: TIMEOUT },
      ).catch(async () => {
        throw new Error(`the opened passage does not hold the refund rule: "${await page.textContent(byTestId('source-passage'))}"`);
      });
    };
    await openChip(reply);
    const href = await page.getAttribute(byTestId('source-download'), 'href');
    assert(href?.startsWith('/api/v1/files/'), `no download link for the file: ${href}`);
    await screenshot(page, 'citation');
    await page.keyboard.press('Escape');
    await page.waitForSelector(byTestId('source-panel'), { state: 'detached' });

    // Sources and chips come back with the stored reply.
    await page.reload();
    await page.waitForSelector(byTestId('chat-view'));
    const stored = page.locator(`${MESSAGES}[data-role="assistant"]`).last();
    await stored.locator(byTestId('message-sources')).waitFor();
    await openChip(stored);
    await screenshot(page, 'sources');
    await page.keyboard.press('Escape');
  }, { independent: true });

  await steps.run('attach', 'the composer uploads a file at once as a chip, shows a refused type with the server message, and sends the file with the message', async () => {
    if ((await page.locator(byTestId('composer-input')).count()) === 0) {
      await page.click(byTestId('nav-chat'));
      await page.waitForSelector(byTestId('composer-input'));
    }
    await page.setInputFiles(byTestId('attach-input'), { name: `notes-${suffix}.md`, mimeType: 'text/markdown', buffer: Buffer.from('# Notes\n\nHello.\n') });
    await page.waitForSelector(`[data-testid="attachment-chip"][data-name="notes-${suffix}.md"][data-status="done"]`);
    // Bytes no sniffer accepts (not text, no known magic number).
    await page.setInputFiles(byTestId('attach-input'), { name: 'blob.bin', mimeType: 'application/octet-stream', buffer: Buffer.from([0, 159, 146, 150, 0, 1, 2, 3, 255, 254]) });
    const refused = '[data-testid="attachment-chip"][data-name="blob.bin"]';
    await page.waitForSelector(`${refused}[data-status="error"]`);
    const reason = (await page.textContent(`${refused} ${byTestId('attachment-error')}`)) ?? '';
    assert(/^Unsupported type: \S/.test(reason), `the refusal does not say why: "${reason}"`);
    await screenshot(page, 'attachments');
    await page.click(`${refused} ${byTestId('attachment-remove')}`);
    assert((await page.locator(refused).count()) === 0, 'the refused chip survived its remove button');
    // The uploaded file rides along with the message and shows on it; the chips are cleared.
    await page.fill(byTestId('composer-input'), `What do my notes say? ${suffix}`);
    await page.press(byTestId('composer-input'), 'Enter');
    await page.waitForSelector(`${MESSAGES}[data-role="user"] [data-testid="message-attachment"][data-kind="document"]`);
    assert((await page.locator(byTestId('attachment-chip')).count()) === 0, 'the chips outlived the send');
  }, { independent: true });

  await steps.run('search', 'search past conversations and open a result', async () => {
    await page.click(byTestId('search-open'));
    await page.fill(byTestId('search-input'), suffix);
    await page.waitForSelector(byTestId('search-result'));
    await page.click(byTestId('search-result'));
    await page.waitForSelector(byTestId('chat-view'));
    await page.waitForSelector(`${MESSAGES}[data-role="user"]`);
  }, { independent: true });

  await steps.run('keyboard', 'keyboard and focus: the skip link is the first Tab stop, New chat focuses the message box, arrows and Enter open a search result in another chat', async () => {
    // A conversation loaded afresh leaves focus alone: the first Tab reaches the skip link, which
    // shows on screen, and Enter on it puts focus in the message box.
    await page.goto(chatUrl);
    await page.waitForSelector(byTestId('chat-view'));
    await waitLast('assistant', 'shown', (m) => Boolean(m.status));
    await page.waitForSelector(`${byTestId('composer-input')}:enabled`);
    await page.keyboard.press('Tab');
    await waitForFocus(page, 'skip-link');
    const link = await page.locator(byTestId('skip-link')).boundingBox();
    assert(link && link.x >= 0 && link.y >= 0 && link.width > 0, `the focused skip link is not on screen: ${JSON.stringify(link)}`);
    await page.keyboard.press('Enter');
    await waitForFocus(page, 'composer-input');

    // New chat from the keyboard: the dialog focuses the blank assistant, Enter starts the chat,
    // and focus lands in its message box (not on the page body).
    const sessionInUrl = () => new URL(page.url()).pathname.split('/')[2];
    const token = `kbd-${suffix}`;
    const newChatWithMessage = async (text) => {
      const before = sessionInUrl();
      await page.focus(byTestId('new-session'));
      await page.keyboard.press('Enter');
      await waitForFocus(page, 'agent-option-blank');
      await page.keyboard.press('Enter');
      await page.waitForFunction((old) => location.pathname.split('/')[2] !== old, before);
      await waitForFocus(page, 'composer-input');
      const session = sessionInUrl();
      await pickModel(FAST_MODEL);
      await sendMessage(text);
      await waitLast('assistant', 'complete', (m) => m.status === 'complete', LONG);
      return session;
    };
    const first = await newChatWithMessage(`${token} in the first chat`);
    const second = await newChatWithMessage(`${token} in the second chat`);

    // Ctrl+K, type, then the arrows: the search box keeps focus and names the active result
    // (aria-activedescendant); the query is marked in it. Newest first, so the first chat's
    // results come after the second's.
    await page.keyboard.press('Control+k');
    await waitForFocus(page, 'search-input');
    await page.keyboard.type(token);
    await page.waitForFunction(
      ([a, b]) => {
        const sessions = [...document.querySelectorAll('[data-testid="search-result"]')].map((r) => r.dataset.sessionId);
        return sessions.includes(a) && sessions.includes(b);
      },
      [first, second],
    );
    const activeResult = () =>
      page.evaluate(() => {
        const option = document.querySelector('[data-testid="search-result"][aria-selected="true"]');
        return {
          id: option?.id ?? null,
          descendant: document.querySelector('[data-testid="search-input"]')?.getAttribute('aria-activedescendant') ?? null,
          session: option?.dataset.sessionId ?? null,
          topic: option?.dataset.topicId ?? null,
          message: option?.dataset.messageId ?? null,
          marks: [...(option?.querySelectorAll('mark') ?? [])].map((m) => m.textContent),
        };
      });
    let active = await activeResult();
    assert(active.session === second, `the first result is not the newest (the second chat): ${JSON.stringify(active)}`);
    const count = await page.locator(byTestId('search-result')).count();
    for (let moves = 0; moves < count && active.session !== first; moves++) {
      await page.keyboard.press('ArrowDown');
      await page.waitForFunction((before) => document.querySelector('[data-testid="search-result"][aria-selected="true"]')?.id !== before, active.id);
      active = await activeResult();
    }
    assert(active.session === first, `ArrowDown never reached the first chat's result: ${JSON.stringify(active)}`);
    assert(active.id && active.descendant === active.id, `the search box does not name the active result: ${JSON.stringify(active)}`);
    assert(active.marks.length > 0 && active.marks.every((m) => m.toLowerCase() === token.toLowerCase()), `the query is not marked in the result: ${JSON.stringify(active.marks)}`);
    await waitForFocus(page, 'search-input');

    // Enter opens it: the first chat at that message, with focus in its message box.
    await page.keyboard.press('Enter');
    await page.waitForFunction((path) => location.pathname === path, `/chat/${active.session}/${active.topic}`);
    await page.waitForSelector(`${MESSAGES}[data-id="${active.message}"]`);
    await waitForFocus(page, 'composer-input');
  }, { independent: true });

  await steps.run('no-balance', 'a send refused for an empty balance is said inline, keeps the draft and retries in one click', async () => {
    // The server answers this one send as it does for a user whose balance is spent.
    const refuse = (route) =>
      route.fulfill({
        status: 402,
        contentType: 'application/json',
        body: JSON.stringify({ error: { code: 'insufficient_quota', message: 'Your balance is used up.' } }),
      });
    await page.click(byTestId('new-session'));
    await page.click(byTestId('agent-option-blank'));
    await page.waitForSelector(byTestId('chat-view'));
    await pickModel(FAST_MODEL);
    const sends = '**/api/v1/chat/sessions/*/messages';
    await page.route(sends, (route) => (route.request().method() === 'POST' ? refuse(route) : route.fallback()));
    const draft = `Retry me ${suffix}`;
    // Earlier toasts (the redeemed balance) are closed, so any toast now is the refusal's.
    for (const close of await page.locator(`${byTestId('toast')} .toast__close`).all()) await close.click();
    await page.fill(byTestId('composer-input'), draft);
    await page.press(byTestId('composer-input'), 'Enter');
    await page.waitForSelector(byTestId('send-refusal'));
    assert((await page.inputValue(byTestId('composer-input'))) === draft, 'the draft is kept in the composer');
    const topUp = await page.getAttribute(byTestId('send-refusal-topup'), 'href');
    assert(topUp === '/account', `the refusal links to the Account page, not ${topUp}`);
    const covered = await page.evaluate(() => {
      const box = document.querySelector('[data-testid="composer-input"]')?.getBoundingClientRect();
      return [...document.querySelectorAll('[data-testid="toast"]')].some((toast) => {
        const r = toast.getBoundingClientRect();
        return box && r.width > 0 && r.left < box.right && r.right > box.left && r.top < box.bottom && r.bottom > box.top;
      });
    });
    assert(!covered, 'no toast covers the composer');
    await page.unroute(sends);
    await page.click(byTestId('send-refusal-retry'));
    await waitLast('user', `"${draft}"`, (m) => m.text === draft);
    await waitLast('assistant', 'the retried reply', (m) => m.status === 'complete', LONG);
    await page.waitForSelector(byTestId('send-refusal'), { state: 'detached' });
    assert((await page.inputValue(byTestId('composer-input'))) === '', 'the sent draft leaves the composer');
  });

  await steps.run('agents', 'create an agent, start a chat from it and see its opening message', async () => {
    await page.click(byTestId('nav-agents'));
    await page.waitForSelector(byTestId('agents-page'));
    await page.click(byTestId('create-agent'));
    await page.fill(byTestId('agent-name'), `E2E Agent ${suffix}`);
    await page.fill(byTestId('agent-system-prompt'), 'You answer briefly.');
    // Math in the opening message (Markdown): it must render under the page's CSP, which refuses
    // inline styles (KaTeX's HTML output lost denominators and limits to it).
    await page.fill(byTestId('agent-opening'), `Hello, I am the e2e agent ${suffix}. Try $\\frac{\\sqrt\\pi}{2}$ or $\\sum_{k=1}^n k$.`);
    await page.click(byTestId('agent-save'));
    const card = page.locator(`[data-testid="agent-card"][data-agent-name="E2E Agent ${suffix}"]`);
    await card.waitFor();
    await screenshot(page, 'agents');
    await page.evaluate(() => {
      window.cspViolations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.cspViolations.push(`${e.violatedDirective}: ${e.sample || e.blockedURI}`));
    });
    await card.locator(byTestId('agent-start')).click();
    await page.waitForSelector(byTestId('chat-view'));
    await page.waitForSelector(`${byTestId('opening-message')} >> text=Hello, I am the e2e agent ${suffix}.`);
    const fraction = page.locator(`${byTestId('opening-message')} math mfrac`);
    await fraction.waitFor();
    const [top, bottom] = await fraction.evaluate((f) => [...f.children].map((c) => c.getBoundingClientRect().height));
    assert(top > 0 && bottom > 0, `the fraction lost a part: numerator ${top}px, denominator ${bottom}px`);
    const limits = await page.locator(`${byTestId('opening-message')} math munderover, ${byTestId('opening-message')} math msubsup`).count();
    assert(limits === 1, `the sum has no limits (${limits})`);
    const violations = await page.evaluate(() => window.cspViolations);
    assert(violations.length === 0, `CSP violations while rendering math: ${violations.join('; ')}`);
    await screenshot(page, 'math');
    // Starting the agent again opens its chat; only the "new chat" button beside it makes another.
    const agentChat = new URL(page.url()).pathname.split('/')[2];
    await page.click(byTestId('nav-agents'));
    await page.click(byTestId('tab-mine'));
    await card.locator(byTestId('agent-start')).click();
    await page.waitForFunction((id) => location.pathname.split('/')[2] === id, agentChat);
    await page.click(byTestId('new-session'));
    await page.locator(`li:has([data-testid="agent-option"][data-agent-name="E2E Agent ${suffix}"]) ${byTestId('agent-option-fresh')}`).click();
    await page.waitForFunction((id) => /^\/chat\/[^/]+/.test(location.pathname) && location.pathname.split('/')[2] !== id, agentChat);
  }, { independent: true });

  await steps.run('keys', 'create an API key (secret shown once), then revoke it', async () => {
    await page.click(byTestId('nav-keys'));
    await page.fill(byTestId('key-name'), `browser key ${suffix}`);
    await page.click(byTestId('key-create'));
    const secret = (await page.textContent(byTestId('key-secret')))?.trim() ?? '';
    assert(secret.startsWith('sk-'), `the new key does not look like a key: ${secret.slice(0, 6)}…`);
    const row = page.locator(`[data-testid="key-row"][data-key-name="browser key ${suffix}"]`);
    await row.waitFor();
    await screenshot(page, 'keys');
    await page.click(byTestId('key-created-dismiss'));
    assert((await page.locator(byTestId('key-secret')).count()) === 0, 'the secret is still shown');
    await row.locator(byTestId('key-revoke')).click();
    await page.click(byTestId('confirm-ok'));
    await page.waitForSelector(`[data-testid="key-row"][data-key-name="browser key ${suffix}"][data-state="revoked"]`);
  }, { independent: true });

  await steps.run('dashboard', 'the admin dashboard charts seeded traffic (two models, one refused request) with a legend entry per model, Channels shows their health, axe finds nothing serious; a screenshot for the README', async () => {
    if (FAKE) {
      log('dashboard: fake-api.mjs keeps no request log; not checked');
      return;
    }
    const DAY = 86_400_000;
    const models = [FAST_MODEL, 'gpt-4o'];
    const series = async (query = '') => pageApi('GET', `/admin/series?from=${Date.now() - DAY}${query}`);
    const before = (await series()).summary;
    // The test user pays for the traffic with keys of its own; the second key may use only
    // gpt-4o, so its request for the other model is refused (404): the failing request.
    const profile = await pageApi('GET', '/user/profile');
    await pageApi('POST', `/admin/users/${profile.id}/balance`, { amount: '1', note: `dashboard ${suffix}` });
    const anyModel = (await pageApi('POST', '/keys', { name: `dashboard ${suffix}` })).key;
    const onlyOne = (await pageApi('POST', '/keys', { name: `dashboard narrow ${suffix}`, models: [models[1]] })).key;
    const complete = async (key, model, stream = false) => {
      const response = await fetch(`${base}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` },
        body: JSON.stringify({ model, stream, max_tokens: 16, messages: [{ role: 'user', content: `dashboard ${suffix}` }] }),
      });
      await response.arrayBuffer();
      return response.status;
    };
    // Some streamed, so time to first token has values too.
    const seeded = [[models[0], false], [models[0], true], [models[0], false], [models[1], true], [models[1], false]];
    for (const [model, stream] of seeded) {
      const status = await complete(anyModel, model, stream);
      assert(status === 200, `${model} answered ${status}`);
    }
    const refused = await complete(onlyOne, models[0]);
    assert(refused === 404, `a key without ${models[0]} got ${refused}, not 404`);

    // The relay writes its request log in batches: wait until the seeded requests are in it.
    const wanted = before.requests + seeded.length + 1;
    const deadline = Date.now() + TIMEOUT;
    let after = before;
    while (after.requests < wanted) {
      assert(Date.now() < deadline, `the request log holds ${after.requests} requests, not ${wanted}, after ${TIMEOUT} ms`);
      await new Promise((resolve) => setTimeout(resolve, 250));
      after = (await series()).summary;
    }
    assert(after.errors >= before.errors + 1, `errors went from ${before.errors} to ${after.errors}`);

    // Tall enough for the totals and two rows of charts in the README's picture.
    await page.setViewportSize({ width: DESKTOP.width, height: 1180 });
    try {
      await page.click(byTestId('nav-admin'));
      await page.waitForURL(/\/admin\/dashboard$/);
      await page.waitForSelector(`${byTestId('admin-dashboard')}[data-state="ready"]`);
      await page.waitForFunction((n) => document.querySelector('[data-testid="dashboard-requests"]')?.textContent === String(n), after.requests);
      const shownErrors = Number(await page.textContent(byTestId('dashboard-errors')));
      assert(shownErrors === after.errors, `the dashboard shows ${shownErrors} errors, the API ${after.errors}`);
      // The hourly requests chart's data table sums to the total as well.
      const tableSum = await page.evaluate(() =>
        [...document.querySelectorAll('[data-testid="dashboard-chart-requests-table"] tbody td')].reduce((sum, cell) => sum + (Number(cell.textContent) || 0), 0),
      );
      assert(tableSum === after.requests, `the requests chart's table sums to ${tableSum}, not ${after.requests}`);

      await page.selectOption(byTestId('dashboard-split'), 'model');
      const legend = `${byTestId('dashboard-chart-requests')} ${byTestId('chart-legend-item')}`;
      await page.waitForFunction(
        ({ selector, names }) => {
          const shown = [...document.querySelectorAll(selector)].map((item) => item.textContent);
          return names.every((name) => shown.includes(name));
        },
        { selector: legend, names: models },
      );
      const bySplit = await series('&split=model&step=hour');
      for (const model of models) {
        const line = bySplit.series.find((s) => s.key === model);
        assert(line && line.requests >= (model === models[0] ? 4 : 2), `the ${model} series has ${line?.requests} requests`);
      }
      const { failing, other } = failingViolations(await axeViolations(page));
      if (other.length) log(`axe, dashboard (minor and moderate, not failing):\n${describeViolations(other)}`);
      assert(failing.length === 0, `accessibility violations on the dashboard:\n${describeViolations(failing)}`);
      await screenshot(page, 'admin-dashboard');
      // The README's picture is refreshed on demand only, so a test run leaves the tree clean.
      if (process.env.OBLIVIOUS_E2E_README_SCREENSHOTS === '1') {
        await page.screenshot({ path: join(REPO, 'docs', 'admin-dashboard.png') });
        log('screenshot', join(REPO, 'docs', 'admin-dashboard.png'));
      }

      // Channels: the channel that served both models shows a success rate and latency from the log.
      await page.click(byTestId('admin-tab-channels'));
      const row = `${byTestId('channel-row')}[data-channel="default/mock-openai"]`;
      await page.waitForFunction((selector) => /%$/.test(document.querySelector(`${selector} [data-testid="channel-rate-24h"]`)?.textContent ?? ''), row);
      const latency = (await page.textContent(`${row} ${byTestId('channel-latency')}`)) ?? '';
      assert(/^\d+ ms \/ \d+ ms$/.test(latency.trim()), `channel latency reads "${latency}"`);
      await screenshot(page, 'admin-channels');
    } finally {
      await page.setViewportSize(DESKTOP);
    }
  }, { independent: true });

  await steps.run('admin', 'admin pages: users, usage charts, logs, channels', async () => {
    await page.click(byTestId('nav-admin'));
    await page.click(byTestId('admin-tab-users'));
    await page.fill(byTestId('user-search'), USER.username);
    await page.waitForSelector(`[data-testid="user-row"][data-username="${USER.username}"]`);
    await screenshot(page, 'admin-users');
    await page.click(byTestId('admin-tab-stats'));
    await page.waitForSelector(`${byTestId('admin-stats')} ${byTestId('chart-requests')}`);
    await page.waitForFunction(() => Number(document.querySelector('[data-testid="stats-requests"]')?.textContent ?? 0) > 0);
    await screenshot(page, 'admin-stats');
    await page.click(byTestId('admin-tab-logs'));
    await page.waitForSelector(byTestId('log-row'));
    // Filtered by the user's name, every row names that user.
    await page.fill(byTestId('logs-user-filter'), USER.username);
    await page.waitForFunction((name) => {
      const users = [...document.querySelectorAll('[data-testid="log-user"]')].map((cell) => cell.textContent);
      return users.length > 0 && users.every((user) => user === name);
    }, USER.username);
    await page.click(byTestId('admin-tab-channels'));
    await page.waitForSelector(byTestId('channel-row'));
  }, { independent: true });

  await steps.run('prefs', 'switch language and theme; both survive a reload', async () => {
    await page.goto(chatUrl);
    await page.waitForSelector(byTestId('chat-view'));
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.click(byTestId('language-switch'));
    await page.waitForFunction(() => document.documentElement.lang === 'zh-CN');
    await page.waitForSelector(`${byTestId('composer-input')}[placeholder="输入消息…"]`);
    await page.click(byTestId('theme-toggle'));
    const dark = theme === 'dark' ? 'light' : 'dark';
    await page.waitForFunction((t) => document.documentElement.dataset.theme === t, dark);
    await page.reload();
    await page.waitForSelector(byTestId('chat-view'));
    assert((await page.evaluate(() => document.documentElement.lang)) === 'zh-CN', 'the language was not kept');
    assert((await page.evaluate(() => document.documentElement.dataset.theme)) === dark, 'the theme was not kept');
    await waitLast('assistant', 'shown', (m) => Boolean(m.status));
    await screenshot(page, dark === 'dark' ? 'chat-dark' : 'chat-light');
    await page.click(byTestId('language-switch'));
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.click(byTestId('theme-toggle'));
    await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
  }, { independent: true });

  await steps.run('mobile', 'phone-sized screen: one pane at a time with a back button, an uncut header and model list, sign-out on the Account page', async () => {
    await page.setViewportSize(PHONE);
    await page.goto(at('/chat'));
    await page.waitForSelector(byTestId('session-rail'));
    assert((await page.locator(byTestId('chat-view')).count()) === 0, 'the conversation shows beside the session list on a phone');
    await screenshot(page, 'mobile-sessions');
    // The chat with the long history, not the agent chat created last.
    const sessionId = new URL(chatUrl).pathname.split('/')[2];
    await page.locator(`[data-testid="session-item"][data-session-id="${sessionId}"] a`).click();
    await page.waitForSelector(byTestId('chat-view'));
    assert((await page.locator(byTestId('session-rail')).count()) === 0, 'the session list shows beside the conversation on a phone');
    await page.waitForSelector(byTestId('chat-back'));
    await waitLast('assistant', 'shown', (m) => Boolean(m.status));
    await screenshot(page, 'mobile');
    // The header has room for the chat's title and the model's name: the title has a row of its
    // own (it shared one with the model and four buttons, and both were cut with "…"), and the
    // model's name is not cut.
    const header = await page.evaluate(() => {
      const box = (id) => document.querySelector(`[data-testid="${id}"]`);
      const [title, model] = [box('chat-title'), box('model-current')];
      const row = title.closest('header').clientWidth;
      return {
        title: { text: title.textContent, cut: title.scrollWidth > title.clientWidth, width: title.clientWidth, row },
        model: { text: model.textContent, cut: model.scrollWidth > model.clientWidth },
      };
    });
    assert(!header.model.cut, `the phone header cuts the model's name: ${JSON.stringify(header.model)}`);
    assert(header.title.width >= 0.75 * header.title.row, `the chat's title has no row of its own in the phone header: ${JSON.stringify(header.title)}`);
    // The model list opens inside the screen.
    await page.click(byTestId('model-picker'));
    const list = await page.locator(byTestId('model-popover')).boundingBox();
    assert(list && list.x >= 0 && list.x + list.width <= PHONE.width, `the model list leaves the screen: ${JSON.stringify(list)}`);
    await screenshot(page, 'mobile-models');
    await page.keyboard.press('Escape');
    await page.waitForSelector(byTestId('model-popover'), { state: 'detached' });
    await page.click(byTestId('show-topics'));
    await page.waitForSelector(byTestId('topic-list'));
    await page.click(byTestId('topics-back'));
    await page.click(byTestId('chat-back'));
    await page.waitForSelector(byTestId('session-rail'));
    // The bottom bar holds the pages only; theme, language and sign-out are on the Account page.
    for (const id of ['logout', 'language-switch', 'theme-toggle']) {
      assert((await page.locator(`nav ${byTestId(id)}`).count()) === 0, `the phone's bottom bar still has ${id}`);
    }
    await page.click(byTestId('nav-account'));
    await page.waitForSelector(`${byTestId('account-device')} ${byTestId('logout')}`);
    await page.waitForSelector(`${byTestId('account-device')} ${byTestId('language-switch')}`);
  }, { independent: true });

  await steps.run('axe', 'axe-core finds no serious or critical WCAG 2.2 AA violation on the chat (with search results and the model list open), agents, keys, account and admin pages, and the phone layout', async () => {
    const problems = [];
    const scan = async (name) => {
      const { failing, other } = failingViolations(await axeViolations(page));
      if (other.length) log(`axe, ${name} (minor and moderate, not failing):\n${describeViolations(other)}`);
      if (failing.length) problems.push(`${name}:\n${describeViolations(failing)}`);
    };
    const visit = async (path, readyTestId) => {
      await page.goto(at(path));
      await page.waitForSelector(byTestId(readyTestId));
    };
    const openConversation = async () => {
      await page.goto(chatUrl);
      await page.waitForSelector(byTestId('chat-view'));
      await waitLast('assistant', 'shown', (m) => Boolean(m.status) && m.status !== 'streaming');
    };

    await page.setViewportSize(DESKTOP);
    await openConversation();
    await scan('chat');
    await page.keyboard.press('Control+k');
    await page.fill(byTestId('search-input'), suffix);
    await page.waitForSelector(byTestId('search-result'));
    await scan('chat, search results');
    await page.keyboard.press('Escape');
    await page.waitForSelector(byTestId('search-dialog'), { state: 'detached' });
    await page.click(byTestId('model-picker'));
    await page.waitForSelector(byTestId('model-option'));
    await scan('chat, model list');
    await page.keyboard.press('Escape');
    await page.waitForSelector(byTestId('model-popover'), { state: 'detached' });
    await visit('/agents', 'agent-card');
    await scan('agents');
    await visit('/keys', 'keys-page');
    await scan('keys');
    await visit('/account', 'account-balance');
    await scan('account');
    await visit('/admin/users', 'user-row');
    await scan('admin users');
    await visit('/admin/logs', 'log-row');
    await scan('admin logs');

    await page.setViewportSize(PHONE);
    await openConversation();
    await scan('phone chat');
    await page.click(byTestId('model-picker'));
    await page.waitForSelector(byTestId('model-option'));
    await scan('phone chat, model list');
    await page.keyboard.press('Escape');
    await visit('/chat', 'session-item');
    await scan('phone chat list');
    await visit('/account', 'account-device');
    await scan('phone account');
    await page.setViewportSize(DESKTOP);
    assert(problems.length === 0, `accessibility violations (serious or critical):\n${problems.join('\n')}`);
  }, { independent: true });
} catch (error) {
  if (!(error instanceof StopRun)) {
    log('the run broke:', error?.stack ?? error);
    steps.results.push({ id: 'run', title: 'test harness', status: 'failed', error: String(error) });
  }
} finally {
  await browser.close();
  const failedServer = steps.results.some((r) => r.status === 'failed') && target.serverLog;
  if (failedServer) log('--- last server output ---\n' + target.serverLog().slice(-8000));
  await target.stop();
}

const summary = steps.summary();
for (const result of steps.results) {
  log(`${result.status.toUpperCase().padEnd(7)} ${result.id}${result.error ? `: ${result.error}` : ''}`);
}
console.log(`browser: ${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''}`);
process.exit(summary.failed > 0 || summary.passed === 0 ? 1 : 0);
