// Browser benchmark: time to render a 2,000-message conversation and to scroll through it.
// Seeds the conversation through the API (1,000 questions and their replies on one branch),
// opens it in Chromium, loads every older page by scrolling up, then scrolls top to bottom and
// back measuring frame times. Prints one JSON line of results (and a readable summary).
//
//   OBLIVIOUS_URL=http://127.0.0.1:8080 node bench.mjs      # or OBLIVIOUS_BIN=… / --fake
//   OBLIVIOUS_BENCH_MESSAGES=2000 (even) OBLIVIOUS_BENCH_MODEL=browser-bench

import { randomBytes } from 'node:crypto';
import { api, launchBrowser, log, readStreamToEnd, startTarget } from './lib.mjs';

const MESSAGES = Number(process.env.OBLIVIOUS_BENCH_MESSAGES ?? 2000);
const PREFERRED_MODELS = process.env.OBLIVIOUS_BENCH_MODEL ? [process.env.OBLIVIOUS_BENCH_MODEL] : ['browser-bench', 'gpt-4o-mini'];

const target = await startTarget({ initialBalance: '100' });
const base = target.url;
const suffix = randomBytes(4).toString('hex');
const user = { username: `bench-${suffix}`, email: `bench-${suffix}@example.test`, password: `Bench-pass-${suffix}!` };

function percentile(sorted, p) {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

let exitCode = 0;
const results = { messages: MESSAGES };
let browser;
try {
  await api(base, 'POST', '/auth/register', { body: user });
  let login = await api(base, 'POST', '/auth/login', { body: { username: user.username, password: user.password } });
  const profile = login.user;
  const quota = await api(base, 'GET', '/user/quota', { token: login.access_token });
  if (Number(quota.balance) < 1) {
    // Fund the account: with the server's admin key, or as the first (admin) account itself.
    const adminToken = target.adminKey ?? (profile.role === 'admin' ? login.access_token : null);
    if (!adminToken) throw new Error('the bench account has no balance: set OBLIVIOUS_ADMIN_KEY, or use a fresh server');
    await api(base, 'POST', `/admin/users/${profile.id}/balance`, { token: adminToken, body: { amount: '50', note: 'browser bench' } });
  }
  const { models } = await api(base, 'GET', '/models', { token: login.access_token });
  const model = PREFERRED_MODELS.find((m) => models.some((x) => x.id === m));
  if (!model) throw new Error(`none of ${PREFERRED_MODELS.join(', ')} is available`);
  const session = await api(base, 'POST', '/chat/sessions', { token: login.access_token, body: { title: `Bench ${suffix}`, model } });

  // Seed: each send waits for its reply so the branch is one straight line.
  const seedStart = Date.now();
  let topicId;
  for (let i = 0; i < MESSAGES / 2; i++) {
    // Varied lengths, so the virtualizer measures different heights.
    const lines = Array.from({ length: 1 + (i % 5) }, (_, j) => `line ${j} of seed message ${i}`).join('\n');
    const content = `Seed message ${i}\n${lines}`;
    if (i > 0 && i % 200 === 0) {
      // Access tokens are short-lived; a long seed refreshes like the UI does.
      login = await api(base, 'POST', '/auth/refresh', { body: { refresh_token: login.refresh_token } });
      log(`seeded ${i * 2} messages`);
    }
    const sent = await api(base, 'POST', `/chat/sessions/${session.id}/messages`, {
      token: login.access_token,
      body: { content, ...(topicId ? { topic_id: topicId } : {}) },
    });
    topicId = sent.topic.id;
    const end = await readStreamToEnd(base, login.access_token, sent.stream_id);
    if (end.type !== 'done') throw new Error(`reply ${i} failed: ${JSON.stringify(end.data)}`);
  }
  results.seed_ms = Date.now() - seedStart;
  log(`seeded ${MESSAGES} messages in ${results.seed_ms} ms`);

  login = await api(base, 'POST', '/auth/refresh', { body: { refresh_token: login.refresh_token } });
  browser = await launchBrowser({ viewport: { width: 1366, height: 900 } });
  const page = await browser.context.newPage();
  page.setDefaultTimeout(60_000);
  // Sign the page in by putting the tokens where the UI keeps them.
  await page.addInitScript((tokens) => localStorage.setItem('oblivious.auth', JSON.stringify(tokens)), {
    access_token: login.access_token,
    refresh_token: login.refresh_token,
  });
  // Load the app once so its code is cached, as for a returning user.
  await page.goto(`${base}/chat`);
  await page.waitForSelector('[data-testid="chat-page"]');

  const openStart = Date.now();
  await page.goto(`${base}/chat/${session.id}/${topicId}`);
  await page.waitForFunction((n) => {
    const users = [...document.querySelectorAll('[data-testid="message"][data-role="user"]')];
    return users.some((el) => el.innerText.includes(`Seed message ${n}\n`));
  }, MESSAGES / 2 - 1);
  results.first_screen_ms = Date.now() - openStart;

  // Scroll up until the very first message is loaded and shown.
  const loadStart = Date.now();
  const pages = await page.evaluate(async () => {
    const list = document.querySelector('[data-testid="message-list"]');
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    let scrolls = 0;
    const deadline = performance.now() + 120_000;
    while (performance.now() < deadline) {
      if ([...document.querySelectorAll('[data-role="user"]')].some((el) => el.innerText.includes('Seed message 0\n'))) return scrolls;
      list.scrollTop = 0;
      scrolls += 1;
      await frame();
      // Wait for the page being loaded to land before scrolling again.
      while (document.querySelector('[data-testid="loading-older"]') && performance.now() < deadline) await frame();
      await frame();
    }
    throw new Error('the first message never appeared');
  });
  results.load_all_ms = Date.now() - loadStart;
  results.scroll_up_steps = pages;

  // Scroll through the whole conversation and back, one viewport per frame, timing frames.
  const scroll = await page.evaluate(async () => {
    const list = document.querySelector('[data-testid="message-list"]');
    const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
    const times = [];
    let maxNodes = 0;
    const run = async (direction) => {
      list.scrollTop = direction > 0 ? 0 : list.scrollHeight;
      await frame();
      let last = performance.now();
      for (let guard = 0; guard < 20_000; guard++) {
        const before = list.scrollTop;
        list.scrollTop = before + direction * list.clientHeight * 0.9;
        await frame();
        const now = performance.now();
        times.push(now - last);
        last = now;
        maxNodes = Math.max(maxNodes, document.querySelectorAll('[data-testid="message"]').length);
        if (list.scrollTop === before) break;
      }
    };
    const started = performance.now();
    await run(1);
    await run(-1);
    return { times, maxNodes, total: performance.now() - started, height: list.scrollHeight };
  });
  const sorted = [...scroll.times].sort((a, b) => a - b);
  results.scroll_total_ms = Math.round(scroll.total);
  results.scroll_frames = scroll.times.length;
  results.frame_p50_ms = Number(percentile(sorted, 0.5).toFixed(1));
  results.frame_p95_ms = Number(percentile(sorted, 0.95).toFixed(1));
  results.frame_max_ms = Number((sorted[sorted.length - 1] ?? 0).toFixed(1));
  results.frames_over_50ms = sorted.filter((t) => t > 50).length;
  results.max_message_nodes = scroll.maxNodes;
  results.scroll_height_px = scroll.height;
  results.heap_mb = Number(((await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0)) / 1e6).toFixed(1));

  console.log(
    [
      `browser bench: ${MESSAGES} messages`,
      `  first screen (newest page) ${results.first_screen_ms} ms`,
      `  all ${MESSAGES} loaded by scrolling up ${results.load_all_ms} ms (${results.scroll_up_steps} scrolls)`,
      `  scroll through and back: ${results.scroll_frames} frames in ${results.scroll_total_ms} ms, p50 ${results.frame_p50_ms} ms, p95 ${results.frame_p95_ms} ms, max ${results.frame_max_ms} ms, ${results.frames_over_50ms} frames > 50 ms`,
      `  at most ${results.max_message_nodes} message elements in the DOM; JS heap ${results.heap_mb} MB`,
    ].join('\n'),
  );
  console.log(JSON.stringify(results));
} catch (error) {
  console.error('bench failed:', error?.stack ?? error);
  if (target.serverLog) console.error(target.serverLog().slice(-4000));
  exitCode = 1;
} finally {
  await browser?.close();
  await target.stop();
}
process.exit(exitCode);
