// A stand-in for `oblivious dev` that speaks the product and chat API of
// dataplane/chat/API.md from memory, and serves web/dist. It exists to develop the web UI and
// these browser tests without the Rust server; the tests themselves target the real server
// (`OBLIVIOUS_URL`). Models: `gpt-4o-mini` (fast), `browser-slow` (about 6 s),
// `browser-reasoning` (thinks first). Run: node fake-api.mjs [port]

import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST = fileURLToPath(new URL('../../web/dist/', import.meta.url));
const now = () => Date.now();
const uuid = () => randomUUID();

const MODELS = {
  'gpt-4o-mini': { words: 12, ms: 15, reasoning: 0, price: { input: '0.15', output: '0.60' } },
  'browser-slow': { words: 60, ms: 100, reasoning: 0, price: { input: '0.15', output: '0.60' } },
  'browser-reasoning': { words: 10, ms: 50, reasoning: 8, price: { input: '1.00', output: '4.00' } },
  'browser-bench': { words: 3, ms: 0, reasoning: 0, price: { input: '0.01', output: '0.01' } },
};

const db = {
  users: [],
  access: new Map(),
  refresh: new Map(),
  sessions: [],
  topics: [],
  messages: [],
  jobs: new Map(),
  agents: [
    {
      id: uuid(),
      source: 'catalog',
      name: 'Translator',
      avatar: '🌐',
      description: 'Translates between Chinese and English.',
      tags: ['writing'],
      system_prompt: 'You translate.',
      model: 'gpt-4o-mini',
      temperature: 0.3,
      opening_message: 'Hi! Paste the text to translate.',
      created_at: now(),
      updated_at: now(),
      owner: null,
    },
  ],
  keys: [],
  codes: [],
  logs: [],
};

const micros = (text) => {
  const [whole, frac = ''] = String(text).replace('-', '').split('.');
  const value = Number(whole) * 1e6 + Number((frac + '000000').slice(0, 6));
  return String(text).startsWith('-') ? -value : value;
};
const decimal = (m) => `${m < 0 ? '-' : ''}${Math.floor(Math.abs(m) / 1e6)}.${String(Math.abs(m) % 1e6).padStart(6, '0')}`;
const userView = (u) => ({
  id: u.id,
  username: u.username,
  email: u.email,
  display_name: u.display_name,
  role: u.role,
  group: u.group,
  disabled: u.disabled,
  balance: decimal(u.balance),
  currency: 'USD',
  created_at: u.created_at,
});

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}
const fail = (res, status, code, message) => send(res, status, { error: { code, message } });

async function body(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString();
  return text ? JSON.parse(text) : {};
}

function issue(user) {
  const access = `fake.${uuid()}.sig`;
  const refresh = `rt-${uuid()}`;
  db.access.set(access, { userId: user.id, exp: now() + 15 * 60_000 });
  db.refresh.set(refresh, { userId: user.id, used: false });
  return { access_token: access, refresh_token: refresh, expires_in: 900, token_type: 'Bearer', user: userView(user) };
}

function auth(req) {
  const token = (req.headers.authorization ?? '').replace(/^Bearer /, '');
  const entry = db.access.get(token);
  if (!entry || entry.exp < now()) return null;
  return db.users.find((u) => u.id === entry.userId && !u.disabled) ?? null;
}

// ---- message tree ----

function siblingsOf(m) {
  const list = db.messages.filter((x) => x.topic_id === m.topic_id && x.parent_id === m.parent_id).sort((a, b) => a.created_at - b.created_at || (a.seq - b.seq));
  return { index: list.findIndex((x) => x.id === m.id), count: list.length, ids: list.map((x) => x.id) };
}
const view = (m) => {
  const { seq: _seq, user_id: _u, ...rest } = m;
  return { ...rest, siblings: siblingsOf(m) };
};
function branch(topic) {
  const path = [];
  let id = topic.active_leaf_id;
  while (id) {
    const m = db.messages.find((x) => x.id === id);
    if (!m) break;
    path.unshift(m);
    id = m.parent_id;
  }
  return path;
}
function newestLeafFrom(m) {
  let current = m;
  for (;;) {
    const kids = db.messages.filter((x) => x.parent_id === current.id).sort((a, b) => b.updated_at - a.updated_at || b.seq - a.seq);
    if (!kids[0]) return current;
    current = kids[0];
  }
}
let seq = 0;
function newMessage(fields) {
  const m = {
    id: uuid(),
    content: '',
    reasoning: '',
    model: null,
    status: 'complete',
    error: null,
    usage: null,
    cost: null,
    currency: 'USD',
    sources: [],
    created_at: now(),
    updated_at: now(),
    seq: seq++,
    ...fields,
  };
  db.messages.push(m);
  return m;
}

// ---- generation jobs ----

function startJob(assistant, user) {
  const model = MODELS[assistant.model] ?? MODELS['gpt-4o-mini'];
  const job = { events: [], done: false, stopped: false, listeners: new Set() };
  db.jobs.set(assistant.id, job);
  const emit = (event, data) => {
    const item = { id: job.events.length + 1, event, data };
    job.events.push(item);
    for (const listener of job.listeners) listener(item);
  };
  const words = Array.from({ length: model.words }, (_, i) => (i === 0 ? 'Mock' : `word${i}`));
  const thoughts = Array.from({ length: model.reasoning }, (_, i) => `thought${i}`);
  let step = 0;
  const finish = (status) => {
    clearInterval(timer);
    const input = 10;
    const output = assistant.content.split(' ').filter(Boolean).length;
    assistant.usage = { input_tokens: input, output_tokens: output, cached_input_tokens: 0, reasoning_tokens: thoughts.length };
    const cost = Math.round((input * micros(model.price.input) + output * micros(model.price.output)) / 1e6);
    assistant.cost = decimal(cost);
    assistant.status = status;
    assistant.updated_at = now();
    user.balance -= cost;
    db.logs.unshift({
      id: uuid(), created_at: now(), key_id: null, user_id: user.id, key_prefix: '', ingress: 'openai', endpoint: 'chat', model: assistant.model,
      upstream_model: assistant.model, channel: 'fake', provider: 'openai', status: 200, error_class: null, attempts: 1, stream: true,
      latency_ms: step * model.ms, ttft_ms: model.ms, input_tokens: input, cached_input_tokens: 0, cache_write_tokens: 0, output_tokens: output,
      reasoning_tokens: 0, usage_estimated: false, cost_micros: cost, currency: 'USD', lane: null,
    });
    emit('usage', { usage: assistant.usage, cost: assistant.cost, currency: 'USD' });
    const topic = db.topics.find((t) => t.id === assistant.topic_id);
    if (topic && !topic.title) {
      const first = branch(topic).find((m) => m.role === 'user');
      topic.title = (first?.content ?? 'Chat').slice(0, 30);
      topic.updated_at = now();
    }
    emit('done', { message: view(assistant) });
    job.done = true;
  };
  const timer = setInterval(() => {
    if (job.stopped) return finish('stopped');
    if (step < thoughts.length) {
      const delta = (step ? ' ' : '') + thoughts[step];
      assistant.reasoning += delta;
      emit('reasoning', { delta });
    } else if (step < thoughts.length + words.length) {
      const i = step - thoughts.length;
      const delta = (i ? ' ' : '') + words[i];
      assistant.content += delta;
      emit('text', { delta });
    } else return finish('complete');
    step += 1;
  }, model.ms);
}

function streamJob(req, res, id) {
  const message = db.messages.find((m) => m.id === id);
  if (!message) return fail(res, 404, 'not_found', 'stream not found');
  res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
  const write = (item) => res.write(`id: ${item.id}\nevent: ${item.event}\ndata: ${JSON.stringify(item.data)}\n\n`);
  const job = db.jobs.get(id);
  const after = Number(req.headers['last-event-id'] ?? new URL(req.url, 'http://x').searchParams.get('last_event_id') ?? 0);
  if (!job) {
    // Finished long ago: replay the final message.
    write({ id: 1, event: 'text', data: { delta: message.content } });
    write({ id: 2, event: 'done', data: { message: view(message) } });
    return res.end();
  }
  for (const item of job.events.filter((e) => e.id > after)) write(item);
  if (job.done) return res.end();
  const listener = (item) => {
    write(item);
    if (item.event === 'done' || item.event === 'error') {
      job.listeners.delete(listener);
      res.end();
    }
  };
  job.listeners.add(listener);
  const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(ping);
    job.listeners.delete(listener);
  });
}

// ---- routes ----

const routes = [];
const route = (method, pattern, handler, { open = false } = {}) =>
  routes.push({ method, regex: new RegExp('^' + pattern.replace(/:(\w+)/g, '(?<$1>[^/]+)') + '$'), handler, open });

route('POST', '/api/v1/auth/register', async (req, res) => {
  const b = await body(req);
  if (!/^[\w.-]{3,32}$/.test(b.username ?? '')) return fail(res, 400, 'invalid_request', 'username: use 3 to 32 letters');
  if (db.users.some((u) => u.username === b.username || u.email === b.email)) return fail(res, 409, 'conflict', 'username is already taken');
  const user = {
    id: uuid(), username: b.username, email: b.email, password: b.password, display_name: '', role: db.users.length ? 'user' : 'admin',
    group: 'default', disabled: false, balance: micros(process.env.FAKE_INITIAL_BALANCE ?? '0'), created_at: now(),
  };
  db.users.push(user);
  send(res, 201, userView(user));
}, { open: true });
route('POST', '/api/v1/auth/login', async (req, res) => {
  const b = await body(req);
  const user = db.users.find((u) => (u.username === b.username || u.email === b.email) && u.password === b.password);
  if (!user) return fail(res, 401, 'unauthenticated', 'Wrong username, email or password.');
  send(res, 200, issue(user));
}, { open: true });
route('POST', '/api/v1/auth/refresh', async (req, res) => {
  const b = await body(req);
  const entry = db.refresh.get(b.refresh_token);
  if (!entry || entry.used) return fail(res, 401, 'unauthenticated', 'The refresh token is invalid or expired.');
  entry.used = true;
  send(res, 200, issue(db.users.find((u) => u.id === entry.userId)));
}, { open: true });
route('POST', '/api/v1/auth/logout', async (req, res) => {
  const b = await body(req);
  db.refresh.delete(b.refresh_token);
  send(res, 204);
}, { open: true });

route('GET', '/api/v1/user/profile', (req, res, { user }) => send(res, 200, userView(user)));
route('GET', '/api/v1/user/quota', (req, res, { user }) => send(res, 200, { balance: decimal(user.balance), currency: 'USD' }));
route('GET', '/api/v1/user/usage', (req, res) => send(res, 200, { data: [], currency: 'USD' }));
route('POST', '/api/v1/user/redeem', async (req, res, { user }) => {
  const b = await body(req);
  const code = db.codes.find((c) => c.code === b.code);
  if (!code || code.redeemed_at) return fail(res, 400, 'invalid_code', 'This code is not valid.');
  code.redeemed_at = now();
  code.redeemed_by = user.id;
  user.balance += code.amount;
  send(res, 200, { amount: decimal(code.amount), balance: decimal(user.balance), currency: 'USD' });
});

const keyView = (k) => ({ id: k.id, name: k.name, prefix: k.key.slice(0, 8), models: k.models, group: 'default', created_at: k.created_at, expires_at: null, revoked_at: k.revoked_at, rpm: null, tpm: null, max_spend: null, spent: '0.000000' });
route('GET', '/api/v1/keys', (req, res, { user }) => send(res, 200, { data: db.keys.filter((k) => k.user_id === user.id).map(keyView) }));
route('POST', '/api/v1/keys', async (req, res, { user }) => {
  const b = await body(req);
  const key = { id: uuid(), user_id: user.id, name: b.name, models: b.models ?? [], key: `sk-${uuid().replace(/-/g, '')}`, created_at: now(), revoked_at: null };
  db.keys.push(key);
  send(res, 201, { ...keyView(key), key: key.key });
});
route('DELETE', '/api/v1/keys/:id', (req, res, { user, params }) => {
  const key = db.keys.find((k) => k.id === params.id && k.user_id === user.id);
  if (!key) return fail(res, 404, 'not_found', 'key not found');
  key.revoked_at = now();
  send(res, 204);
});

route('GET', '/api/v1/models', (req, res) =>
  send(res, 200, { models: Object.entries(MODELS).map(([id, m]) => ({ id, provider: 'openai', context_window: 128000, price: { ...m.price, currency: 'USD' } })) }));

const agentView = ({ owner: _o, ...a }) => a;
route('GET', '/api/v1/agents', (req, res, { user }) => {
  const source = new URL(req.url, 'http://x').searchParams.get('source');
  send(res, 200, { agents: db.agents.filter((a) => (a.source === 'catalog' || a.owner === user.id) && (!source || a.source === source)).map(agentView) });
});
route('POST', '/api/v1/agents', async (req, res, { user }) => {
  const b = await body(req);
  const agent = { id: uuid(), source: 'user', name: b.name, avatar: b.avatar ?? '🤖', description: b.description ?? '', tags: b.tags ?? [], system_prompt: b.system_prompt ?? '', model: b.model ?? 'gpt-4o-mini', temperature: b.temperature ?? null, opening_message: b.opening_message ?? null, created_at: now(), updated_at: now(), owner: user.id };
  db.agents.push(agent);
  send(res, 201, agentView(agent));
});
const ownAgent = (user, id) => db.agents.find((a) => a.id === id && (a.source === 'catalog' || a.owner === user.id));
route('PATCH', '/api/v1/agents/:id', async (req, res, { user, params }) => {
  const agent = ownAgent(user, params.id);
  if (!agent) return fail(res, 404, 'not_found', 'agent not found');
  if (agent.source === 'catalog') return fail(res, 403, 'forbidden', 'catalog agents are read-only');
  Object.assign(agent, await body(req), { updated_at: now() });
  send(res, 200, agentView(agent));
});
route('DELETE', '/api/v1/agents/:id', (req, res, { user, params }) => {
  const agent = ownAgent(user, params.id);
  if (!agent) return fail(res, 404, 'not_found', 'agent not found');
  if (agent.source === 'catalog') return fail(res, 403, 'forbidden', 'catalog agents are read-only');
  db.agents.splice(db.agents.indexOf(agent), 1);
  send(res, 204);
});

const sessionView = ({ user_id: _u, ...s }) => s;
const ownSession = (user, id) => db.sessions.find((s) => s.id === id && s.user_id === user.id);
route('GET', '/api/v1/chat/sessions', (req, res, { user }) =>
  send(res, 200, { sessions: db.sessions.filter((s) => s.user_id === user.id).sort((a, b) => b.pinned - a.pinned || b.updated_at - a.updated_at).map(sessionView) }));
route('POST', '/api/v1/chat/sessions', async (req, res, { user }) => {
  const b = await body(req);
  const agent = b.agent_id ? ownAgent(user, b.agent_id) : null;
  const session = {
    id: uuid(), user_id: user.id, title: b.title ?? agent?.name ?? 'New chat', avatar: b.avatar ?? agent?.avatar ?? '🤖', description: agent?.description ?? '',
    agent_id: agent?.id ?? null, system_prompt: b.system_prompt ?? agent?.system_prompt ?? '', model: b.model ?? agent?.model ?? 'gpt-4o-mini',
    temperature: b.temperature ?? agent?.temperature ?? null, opening_message: agent?.opening_message ?? null, pinned: false, group: b.group ?? '',
    created_at: now(), updated_at: now(),
  };
  db.sessions.push(session);
  send(res, 201, sessionView(session));
});
route('GET', '/api/v1/chat/sessions/:id', (req, res, { user, params }) => {
  const s = ownSession(user, params.id);
  return s ? send(res, 200, sessionView(s)) : fail(res, 404, 'not_found', 'session not found');
});
route('PATCH', '/api/v1/chat/sessions/:id', async (req, res, { user, params }) => {
  const s = ownSession(user, params.id);
  if (!s) return fail(res, 404, 'not_found', 'session not found');
  Object.assign(s, await body(req), { updated_at: now() });
  send(res, 200, sessionView(s));
});
route('DELETE', '/api/v1/chat/sessions/:id', (req, res, { user, params }) => {
  const s = ownSession(user, params.id);
  if (!s) return fail(res, 404, 'not_found', 'session not found');
  db.sessions.splice(db.sessions.indexOf(s), 1);
  send(res, 204);
});
route('GET', '/api/v1/chat/sessions/:id/topics', (req, res, { user, params }) => {
  if (!ownSession(user, params.id)) return fail(res, 404, 'not_found', 'session not found');
  send(res, 200, { topics: db.topics.filter((t) => t.session_id === params.id).sort((a, b) => b.updated_at - a.updated_at), has_more: false });
});
function newTopic(sessionId, title = '') {
  const topic = { id: uuid(), session_id: sessionId, title, active_leaf_id: null, created_at: now(), updated_at: now() };
  db.topics.push(topic);
  return topic;
}
route('POST', '/api/v1/chat/sessions/:id/topics', async (req, res, { user, params }) => {
  if (!ownSession(user, params.id)) return fail(res, 404, 'not_found', 'session not found');
  send(res, 201, newTopic(params.id, (await body(req)).title ?? ''));
});
const ownTopic = (user, id) => db.topics.find((t) => t.id === id && ownSession(user, t.session_id));
route('PATCH', '/api/v1/chat/topics/:id', async (req, res, { user, params }) => {
  const t = ownTopic(user, params.id);
  if (!t) return fail(res, 404, 'not_found', 'topic not found');
  t.title = (await body(req)).title;
  send(res, 200, t);
});
route('DELETE', '/api/v1/chat/topics/:id', (req, res, { user, params }) => {
  const t = ownTopic(user, params.id);
  if (!t) return fail(res, 404, 'not_found', 'topic not found');
  db.topics.splice(db.topics.indexOf(t), 1);
  send(res, 204);
});
route('GET', '/api/v1/chat/topics/:id/export', (req, res, { user, params }) => {
  const t = ownTopic(user, params.id);
  if (!t) return fail(res, 404, 'not_found', 'topic not found');
  res.writeHead(200, { 'Content-Type': 'text/markdown' });
  res.end(branch(t).map((m) => `**${m.role}**: ${m.content}`).join('\n\n'));
});

route('GET', '/api/v1/chat/sessions/:id/messages', (req, res, { user, params }) => {
  const session = ownSession(user, params.id);
  if (!session) return fail(res, 404, 'not_found', 'session not found');
  const q = new URL(req.url, 'http://x').searchParams;
  const topic = q.get('topic_id') ? db.topics.find((t) => t.id === q.get('topic_id') && t.session_id === session.id) : db.topics.filter((t) => t.session_id === session.id).sort((a, b) => b.updated_at - a.updated_at)[0];
  if (!topic) return q.get('topic_id') ? fail(res, 404, 'not_found', 'topic not found') : send(res, 200, { messages: [], has_more: false });
  const limit = Math.min(200, Number(q.get('limit') ?? 50));
  let list = branch(topic);
  if (q.get('before')) list = list.slice(0, Math.max(0, list.findIndex((m) => m.id === q.get('before'))));
  const page = list.slice(Math.max(0, list.length - limit));
  send(res, 200, { messages: page.map(view), has_more: list.length > page.length });
});
function sendReply(res, user, session, topic, parentId, content) {
  const userMessage = newMessage({ session_id: session.id, topic_id: topic.id, parent_id: parentId, role: 'user', content, user_id: user.id });
  return reply(res, user, session, topic, userMessage, true);
}
function reply(res, user, session, topic, userMessage, withUser) {
  if (user.balance <= 0) return fail(res, 402, 'insufficient_quota', 'Your balance is used up.');
  const assistant = newMessage({ session_id: session.id, topic_id: topic.id, parent_id: userMessage.id, role: 'assistant', status: 'streaming', model: session.model, user_id: user.id });
  topic.active_leaf_id = assistant.id;
  topic.updated_at = session.updated_at = now();
  startJob(assistant, user);
  send(res, 201, { topic, ...(withUser ? { user_message: view(userMessage) } : {}), assistant_message: view(assistant), stream_id: assistant.id });
}
route('POST', '/api/v1/chat/sessions/:id/messages', async (req, res, { user, params }) => {
  const session = ownSession(user, params.id);
  if (!session) return fail(res, 404, 'not_found', 'session not found');
  const b = await body(req);
  if (user.balance <= 0) return fail(res, 402, 'insufficient_quota', 'Your balance is used up.');
  const topic = b.topic_id ? db.topics.find((t) => t.id === b.topic_id && t.session_id === session.id) : newTopic(session.id);
  if (!topic) return fail(res, 404, 'not_found', 'topic not found');
  sendReply(res, user, session, topic, b.parent_id ?? topic.active_leaf_id, b.content);
});
const ownMessage = (user, id) => db.messages.find((m) => m.id === id && m.user_id === user.id);
route('POST', '/api/v1/chat/messages/:id/regenerate', (req, res, { user, params }) => {
  const m = ownMessage(user, params.id);
  if (!m || m.role !== 'assistant') return fail(res, 404, 'not_found', 'message not found');
  const topic = db.topics.find((t) => t.id === m.topic_id);
  reply(res, user, db.sessions.find((s) => s.id === m.session_id), topic, db.messages.find((x) => x.id === m.parent_id), false);
});
route('PUT', '/api/v1/chat/messages/:id', async (req, res, { user, params }) => {
  const m = ownMessage(user, params.id);
  if (!m || m.role !== 'user') return fail(res, 404, 'not_found', 'message not found');
  const topic = db.topics.find((t) => t.id === m.topic_id);
  sendReply(res, user, db.sessions.find((s) => s.id === m.session_id), topic, m.parent_id, (await body(req)).content);
});
route('POST', '/api/v1/chat/messages/:id/activate', (req, res, { user, params }) => {
  const m = ownMessage(user, params.id);
  if (!m) return fail(res, 404, 'not_found', 'message not found');
  const topic = db.topics.find((t) => t.id === m.topic_id);
  topic.active_leaf_id = newestLeafFrom(m).id;
  send(res, 200, { topic });
});
route('DELETE', '/api/v1/chat/messages/:id', (req, res, { user, params }) => {
  const m = ownMessage(user, params.id);
  if (!m) return fail(res, 404, 'not_found', 'message not found');
  const doomed = new Set([m.id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const x of db.messages) if (x.parent_id && doomed.has(x.parent_id) && !doomed.has(x.id)) (doomed.add(x.id), (grew = true));
  }
  db.messages = db.messages.filter((x) => !doomed.has(x.id));
  const topic = db.topics.find((t) => t.id === m.topic_id);
  topic.active_leaf_id = m.parent_id;
  send(res, 204);
});
route('GET', '/api/v1/chat/streams/:id', (req, res, { params }) => streamJob(req, res, params.id));
route('POST', '/api/v1/chat/streams/:id/stop', (req, res, { params }) => {
  const job = db.jobs.get(params.id);
  if (job) job.stopped = true;
  send(res, 202, {});
});
route('GET', '/api/v1/chat/search', (req, res, { user }) => {
  const q = (new URL(req.url, 'http://x').searchParams.get('q') ?? '').toLowerCase();
  const results = db.messages
    .filter((m) => m.user_id === user.id && q && m.content.toLowerCase().includes(q))
    .slice(-20)
    .reverse()
    .map((m) => {
      const topic = db.topics.find((t) => t.id === m.topic_id);
      const session = db.sessions.find((s) => s.id === m.session_id);
      return { message_id: m.id, session_id: m.session_id, topic_id: m.topic_id, topic_title: topic?.title ?? '', session_title: session?.title ?? '', role: m.role, snippet: m.content.slice(0, 120), created_at: m.created_at };
    });
  send(res, 200, { results });
});

const admin = (handler) => (req, res, ctx) => (ctx.user.role === 'admin' ? handler(req, res, ctx) : fail(res, 403, 'forbidden', 'admins only'));
route('GET', '/api/v1/admin/users', admin((req, res) => {
  const q = (new URL(req.url, 'http://x').searchParams.get('q') ?? '').toLowerCase();
  send(res, 200, { data: db.users.filter((u) => !q || u.username.includes(q) || u.email.includes(q)).map(userView), total: db.users.length });
}));
route('PATCH', '/api/v1/admin/users/:id', admin(async (req, res, { params }) => {
  const u = db.users.find((x) => x.id === params.id);
  if (!u) return fail(res, 404, 'not_found', 'user not found');
  Object.assign(u, await body(req));
  send(res, 200, userView(u));
}));
route('POST', '/api/v1/admin/users/:id/balance', admin(async (req, res, { params }) => {
  const u = db.users.find((x) => x.id === params.id);
  if (!u) return fail(res, 404, 'not_found', 'user not found');
  u.balance += micros((await body(req)).amount);
  send(res, 200, { balance: decimal(u.balance) });
}));
route('GET', '/api/v1/admin/redeem-codes', admin((req, res) => send(res, 200, { data: db.codes.map(({ code: _c, amount, ...c }) => ({ ...c, amount: decimal(amount) })) })));
route('POST', '/api/v1/admin/redeem-codes', admin(async (req, res) => {
  const b = await body(req);
  const minted = Array.from({ length: b.count }, () => {
    const code = { id: uuid(), code: `rc-${uuid().slice(0, 18)}`, amount: micros(b.amount), note: b.note ?? '', created_at: now(), expires_at: b.expires_at ?? null, redeemed_by: null, redeemed_at: null };
    code.prefix = code.code.slice(0, 7);
    db.codes.unshift(code);
    return code;
  });
  send(res, 201, { data: minted.map((c) => ({ ...c, amount: decimal(c.amount) })) });
}));
route('GET', '/api/v1/admin/logs', admin((req, res) => {
  // Like the server: `user` is a name, an email or an id; each row names its user.
  const wanted = new URL(req.url, 'http://fake').searchParams.get('user');
  const owner = wanted ? db.users.find((u) => u.username === wanted || u.email === wanted || u.id === wanted) : null;
  const rows = db.logs
    .filter((log) => !wanted || log.user_id === owner?.id)
    .map((log) => ({ ...log, username: db.users.find((u) => u.id === log.user_id)?.username ?? null }));
  send(res, 200, { data: rows.slice(0, 100) });
}));
route('GET', '/api/v1/admin/stats', admin((req, res) => {
  const groupBy = new URL(req.url, 'http://x').searchParams.get('group_by') ?? 'day';
  const buckets = new Map();
  for (const log of db.logs) {
    const key = groupBy === 'day' ? new Date(log.created_at).toISOString().slice(0, 10) : groupBy === 'model' ? log.model : groupBy === 'user' ? log.user_id : groupBy === 'channel' ? log.channel : log.key_id ?? '';
    const row = buckets.get(key) ?? { bucket: key, model: null, requests: 0, errors: 0, input_tokens: 0, output_tokens: 0, cost_micros: 0 };
    row.requests += 1;
    row.input_tokens += log.input_tokens;
    row.output_tokens += log.output_tokens;
    row.cost_micros += log.cost_micros;
    buckets.set(key, row);
  }
  send(res, 200, { group_by: groupBy, currency: 'USD', data: [...buckets.values()].map(({ cost_micros, ...r }) => ({ ...r, cost: decimal(cost_micros) })) });
}));
route('GET', '/api/v1/admin/channels', admin((req, res) =>
  send(res, 200, { version: 1, data: [{ name: 'fake', provider: 'openai', models: Object.keys(MODELS), priority: 0, weight: 100, groups: [], suspended: false, keys: 1, health: { ejected: false, consecutive_failures: 0, disabled_keys: 0, last_disable_reason: null, successes: db.logs.length, failures: 0 } }] })));

// ---- static files with the SPA fallback the Rust server does ----

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.woff2': 'font/woff2', '.woff': 'font/woff', '.ttf': 'font/ttf' };
async function serveStatic(req, res) {
  const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
  let file = join(DIST, path);
  try {
    if (!(await stat(file)).isFile()) throw new Error('dir');
  } catch {
    file = join(DIST, 'index.html');
  }
  res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
  res.end(await readFile(file));
}

const server = createServer(async (req, res) => {
  try {
    const path = new URL(req.url, 'http://x').pathname;
    if (path === '/readyz') return send(res, 200, { ready: true });
    if (!path.startsWith('/api/')) return serveStatic(req, res);
    for (const r of routes) {
      const match = r.method === req.method && r.regex.exec(path);
      if (!match) continue;
      const user = r.open ? null : auth(req);
      if (!r.open && !user) return fail(res, 401, 'unauthenticated', 'Sign in.');
      return await r.handler(req, res, { user, params: match.groups ?? {} });
    }
    fail(res, 404, 'not_found', `no route ${req.method} ${path}`);
  } catch (error) {
    console.error(error);
    if (!res.headersSent) fail(res, 500, 'internal', String(error));
  }
});

const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
server.listen(port, '127.0.0.1', () => console.log(`fake oblivious API on http://127.0.0.1:${port}`));
