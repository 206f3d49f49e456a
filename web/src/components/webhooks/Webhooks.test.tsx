import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../../api/tokens';
import type { Webhook, WebhookDelivery } from '../../api/types';
import { formatDateTime } from '../../lib/format';
import { toastStore } from '../../state/toasts';
import { ConfirmHost } from '../Confirm';
import { WebhooksSection } from './WebhooksSection';

afterEach(cleanup);

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const refusal = (status: number, message: string) => json({ error: { code: status === 409 ? 'conflict' : 'invalid_request', message } }, status);

const ci: Webhook = {
  id: 'w1',
  url: 'https://ci.example.com/hooks',
  event_types: ['reply.completed', 'reply.failed'],
  description: 'CI notifier',
  enabled: true,
  scope: 'user',
  created_at: 1_733_100_000_000,
  updated_at: 1_733_100_000_000,
};
const billing: Webhook = { ...ci, id: 'w2', url: 'https://billing.example.com/in', event_types: ['balance.low'], description: '', enabled: false };

const delivery = (id: string, change: Partial<WebhookDelivery>): WebhookDelivery => ({
  id,
  webhook_id: 'w1',
  event_id: `e-${id}`,
  event_type: 'reply.completed',
  status: 'delivered',
  attempts: 1,
  next_attempt_at: null,
  last_status_code: 200,
  last_error: null,
  last_attempt_at: 1_733_200_000_000,
  delivered_at: 1_733_200_000_000,
  created_at: 1_733_200_000_000,
  payload: {},
  ...change,
});

let hooks: Webhook[];
let deliveries: Record<string, WebhookDelivery[]>;
let calls: { method: string; url: string; body: unknown }[];
/** Answers the next POST /webhooks, when set; by default the webhook is created. */
let createAnswer: (() => Response) | null;
let testAnswer: (() => Response) | null;
let listStatus: number;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  toastStore.set({ toasts: [] });
  hooks = [ci, billing];
  deliveries = { w1: [], w2: [] };
  calls = [];
  createAnswer = null;
  testAnswer = null;
  listStatus = 200;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    calls.push({ method, url, body });
    if (url === '/api/v1/webhooks' && method === 'GET') return listStatus === 200 ? json({ data: hooks }) : refusal(listStatus, 'no route');
    if (url === '/api/v1/webhooks' && method === 'POST') {
      if (createAnswer) return createAnswer();
      const hook: Webhook = {
        id: 'w3',
        url: String(body?.url),
        event_types: body?.event_types as string[],
        description: String(body?.description ?? ''),
        enabled: true,
        scope: 'user',
        created_at: 1_733_300_000_000,
        updated_at: 1_733_300_000_000,
      };
      hooks = [...hooks, hook];
      deliveries[hook.id] = [];
      return json({ ...hook, secret: 'whsec_c2VjcmV0LW9uY2U=' }, 201);
    }
    const one = /^\/api\/v1\/webhooks\/([^/?]+)(\/[a-z]+)?(\?.*)?$/.exec(url);
    const hook = hooks.find((h) => h.id === one?.[1]);
    if (one && hook) {
      const [, id, tail] = one;
      if (!tail && method === 'PATCH') {
        const changed = { ...hook, ...body, updated_at: hook.updated_at + 1 } as Webhook;
        hooks = hooks.map((h) => (h.id === id ? changed : h));
        return json(changed);
      }
      if (!tail && method === 'DELETE') {
        hooks = hooks.filter((h) => h.id !== id);
        return new Response(null, { status: 204 });
      }
      if (tail === '/test' && method === 'POST') {
        if (testAnswer) return testAnswer();
        deliveries[hook.id] = [delivery('ping1', { webhook_id: hook.id, event_type: 'ping', status: 'pending', attempts: 0, last_status_code: null, delivered_at: null, next_attempt_at: 1_733_400_000_000 }), ...(deliveries[hook.id] ?? [])];
        return json({ event_id: 'e-ping1' }, 202);
      }
      if (tail === '/deliveries' && method === 'GET') return json({ data: deliveries[hook.id] ?? [] });
    }
    return refusal(404, `not found: ${method} ${url}`);
  });
});

function show() {
  return render(
    <>
      <WebhooksSection />
      <ConfirmHost />
    </>,
  );
}

const items = () => screen.getAllByTestId('webhook');
const item = (id: string) => items().find((li) => li.getAttribute('data-id') === id) as HTMLElement;
const toasts = () => toastStore.get().toasts.map((t) => t.text);

function fillForm(url: string, events: string[], description = '') {
  fireEvent.change(screen.getByLabelText('Endpoint URL'), { target: { value: url } });
  for (const event of events) fireEvent.click(screen.getByRole('checkbox', { name: new RegExp(`^${event.replace('.', '\\.')}`) }));
  if (description) fireEvent.change(screen.getByLabelText('Description (optional)'), { target: { value: description } });
}

describe('the Webhooks section of the Account page', () => {
  it("lists the user's webhooks with URL, description, events and whether each is enabled", async () => {
    show();
    await screen.findByTestId('webhook-list');
    expect(items().map((li) => li.getAttribute('data-id'))).toEqual(['w1', 'w2']);
    const first = item('w1');
    expect(within(first).getByTestId('webhook-url-text').textContent).toBe('https://ci.example.com/hooks');
    expect(within(first).getByTestId('webhook-description-text').textContent).toBe('CI notifier');
    expect(within(first).getByTestId('webhook-events').textContent).toContain('Events: reply.completed, reply.failed');
    // Every control is named after the webhook it acts on (the description, else the URL).
    expect((within(first).getByRole('checkbox', { name: 'Enabled CI notifier' }) as HTMLInputElement).checked).toBe(true);
    expect(within(first).getByRole('button', { name: 'Send test to CI notifier' })).toBeTruthy();
    expect(within(first).getByRole('button', { name: 'Delete webhook CI notifier' })).toBeTruthy();
    const second = item('w2');
    expect(within(second).queryByTestId('webhook-description-text')).toBeNull();
    expect((within(second).getByRole('checkbox', { name: 'Enabled https://billing.example.com/in' }) as HTMLInputElement).checked).toBe(false);
  });

  it('says so when there are none yet', async () => {
    hooks = [];
    show();
    expect((await screen.findByTestId('webhooks-empty')).textContent).toBe('No webhooks yet.');
  });

  it('keeps Add disabled until a URL and at least one event are given', async () => {
    show();
    await screen.findByTestId('webhook-list');
    const add = screen.getByTestId('webhook-add') as HTMLButtonElement;
    expect(add.disabled).toBe(true);
    fireEvent.change(screen.getByLabelText('Endpoint URL'), { target: { value: 'https://x.example.com/in' } });
    expect(add.disabled).toBe(true);
    fireEvent.click(screen.getByRole('checkbox', { name: /^key\.created/ }));
    expect(add.disabled).toBe(false);
    fireEvent.click(screen.getByRole('checkbox', { name: /^key\.created/ }));
    expect(add.disabled).toBe(true);
    fireEvent.submit(screen.getByTestId('webhook-form'));
    expect(calls.filter((c) => c.method === 'POST')).toEqual([]);
  });

  it('adds a webhook, shows its secret once with the shown-only-now note, and never again after a reload of the list', async () => {
    const view = show();
    await screen.findByTestId('webhook-list');
    fillForm(' https://new.example.com/in ', ['file.indexed', 'reply.completed'], ' Indexer ');
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });

    expect(calls.filter((c) => c.method === 'POST')).toEqual([
      { method: 'POST', url: '/api/v1/webhooks', body: { url: 'https://new.example.com/in', event_types: ['reply.completed', 'file.indexed'], description: 'Indexer' } },
    ]);
    const notice = await screen.findByTestId('webhook-secret');
    expect(notice.textContent).toContain('Signing secret of https://new.example.com/in');
    expect(within(notice).getByTestId('webhook-secret-note').textContent).toBe(
      'Shown only now: copy it and give it to your receiver, which needs it to verify signatures. It cannot be shown again.',
    );
    const secret = within(notice).getByLabelText('Signing secret') as HTMLInputElement;
    expect(secret.value).toBe('whsec_c2VjcmV0LW9uY2U=');
    expect(secret.readOnly).toBe(true);
    // The focus goes to the secret, so its note is read with it.
    expect(document.activeElement).toBe(secret);
    expect(within(notice).getByRole('button', { name: 'Copy secret' })).toBeTruthy();

    // The list holds the new webhook, without its secret; the form is empty again.
    const added = item('w3');
    expect(within(added).getByTestId('webhook-description-text').textContent).toBe('Indexer');
    expect(added.textContent).not.toContain('whsec_');
    expect((screen.getByLabelText('Endpoint URL') as HTMLInputElement).value).toBe('');
    expect(screen.getAllByRole('checkbox', { name: /^(reply|balance|key|file)\./ }).some((box) => (box as HTMLInputElement).checked)).toBe(false);

    // Reading the list again (the page reloaded) cannot show it: the server never sends it twice,
    // and nothing here kept it.
    view.unmount();
    expect(Object.values({ ...localStorage, ...sessionStorage }).join()).not.toContain('whsec_');
    show();
    await waitFor(() => expect(items()).toHaveLength(3));
    expect(screen.queryByTestId('webhook-secret')).toBeNull();
    expect(document.body.textContent).not.toContain('whsec_');
  });

  it('lets the user put the secret away once saved', async () => {
    show();
    await screen.findByTestId('webhook-list');
    fillForm('https://new.example.com/in', ['key.revoked']);
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });
    expect(calls.at(-1)?.body).toEqual({ url: 'https://new.example.com/in', event_types: ['key.revoked'] });
    fireEvent.click(await screen.findByRole('button', { name: 'I have saved it' }));
    expect(screen.queryByTestId('webhook-secret')).toBeNull();
    expect(document.activeElement?.textContent).toBe('Your webhooks');
  });

  it.each([
    ['url', 'url: the host resolves to a loopback address', 'webhook-url-error', () => screen.getByLabelText('Endpoint URL')],
    ['event_types', 'event_types: unknown event type `reply.done`', 'webhook-events-error', () => screen.getByRole('checkbox', { name: /^reply\.completed/ })],
    ['description', 'description: at most 200 characters', 'webhook-description-error', () => screen.getByLabelText('Description (optional)')],
  ])('puts a 400 naming %s beside that field and takes the focus there', async (_field, message, errorId, field) => {
    createAnswer = () => refusal(400, message);
    show();
    await screen.findByTestId('webhook-list');
    fillForm('http://127.0.0.1/in', ['reply.completed'], 'x');
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });
    const error = await screen.findByTestId(errorId);
    expect(error.textContent).toBe(message.slice(message.indexOf(': ') + 2));
    expect(error.getAttribute('role')).toBe('alert');
    const target = field();
    expect(document.activeElement).toBe(target);
    expect(target.getAttribute('aria-invalid')).toBe('true');
    // The field's description points at the error, and nothing is added or shown as a secret.
    expect((target.closest('[aria-describedby]') as HTMLElement).getAttribute('aria-describedby')).toContain(error.id);
    expect(screen.queryByTestId('webhook-secret')).toBeNull();
    expect(items()).toHaveLength(2);
    expect(screen.queryByTestId('webhook-form-error')).toBeNull();
  });

  it('clears a field error once that field is changed, and keeps what was typed', async () => {
    createAnswer = () => refusal(400, 'url: must be http or https');
    show();
    await screen.findByTestId('webhook-list');
    fillForm('ftp://x.example.com', ['reply.failed']);
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });
    await screen.findByTestId('webhook-url-error');
    expect((screen.getByLabelText('Endpoint URL') as HTMLInputElement).value).toBe('ftp://x.example.com');
    fireEvent.change(screen.getByLabelText('Endpoint URL'), { target: { value: 'https://x.example.com' } });
    expect(screen.queryByTestId('webhook-url-error')).toBeNull();
  });

  it('shows the limit (409) under the form', async () => {
    createAnswer = () => refusal(409, 'at most 10 webhooks per account');
    show();
    await screen.findByTestId('webhook-list');
    fillForm('https://x.example.com/in', ['reply.completed']);
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });
    expect((await screen.findByTestId('webhook-form-error')).textContent).toBe('at most 10 webhooks per account');
  });

  it('turns a webhook off and on with a PATCH of enabled only', async () => {
    show();
    await screen.findByTestId('webhook-list');
    const box = within(item('w1')).getByRole('checkbox', { name: 'Enabled CI notifier' }) as HTMLInputElement;
    await act(async () => {
      fireEvent.click(box);
    });
    await waitFor(() => expect(item('w1').getAttribute('data-enabled')).toBe('false'));
    expect(box.checked).toBe(false);
    await act(async () => {
      fireEvent.click(box);
    });
    await waitFor(() => expect(item('w1').getAttribute('data-enabled')).toBe('true'));
    expect(calls.filter((c) => c.method === 'PATCH')).toEqual([
      { method: 'PATCH', url: '/api/v1/webhooks/w1', body: { enabled: false } },
      { method: 'PATCH', url: '/api/v1/webhooks/w1', body: { enabled: true } },
    ]);
  });

  it('keeps the switch as the server has it when the PATCH is refused', async () => {
    show();
    await screen.findByTestId('webhook-list');
    vi.stubGlobal('fetch', async () => refusal(500, 'database unavailable'));
    const box = within(item('w1')).getByRole('checkbox', { name: 'Enabled CI notifier' }) as HTMLInputElement;
    await act(async () => {
      fireEvent.click(box);
    });
    await waitFor(() => expect(toasts()).toContain('database unavailable'));
    expect(box.checked).toBe(true);
  });

  it('deletes a webhook only after the confirmation', async () => {
    show();
    await screen.findByTestId('webhook-list');
    fireEvent.click(within(item('w1')).getByRole('button', { name: 'Delete webhook CI notifier' }));
    const dialog = await screen.findByTestId('confirm-dialog');
    expect(dialog.textContent).toContain('CI notifier will receive no more events');
    fireEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    await waitFor(() => expect(screen.queryByTestId('confirm-dialog')).toBeNull());
    expect(calls.filter((c) => c.method === 'DELETE')).toEqual([]);

    fireEvent.click(within(item('w1')).getByRole('button', { name: 'Delete webhook CI notifier' }));
    await act(async () => {
      fireEvent.click(await screen.findByTestId('confirm-ok'));
    });
    await waitFor(() => expect(items().map((li) => li.getAttribute('data-id'))).toEqual(['w2']));
    expect(calls.filter((c) => c.method === 'DELETE')).toEqual([{ method: 'DELETE', url: '/api/v1/webhooks/w1', body: undefined }]);
    // The focus does not fall to the page: it goes to the list's heading.
    expect(document.activeElement?.textContent).toBe('Your webhooks');
  });

  it('sends a test and shows the ping among the open deliveries', async () => {
    deliveries.w1 = [delivery('d1', {})];
    show();
    await screen.findByTestId('webhook-list');
    const toggle = within(item('w1')).getByRole('button', { name: 'Recent deliveries CI notifier' });
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    fireEvent.click(toggle);
    expect(toggle.getAttribute('aria-expanded')).toBe('true');
    await waitFor(() => expect(within(item('w1')).getAllByTestId('delivery')).toHaveLength(1));

    await act(async () => {
      fireEvent.click(within(item('w1')).getByRole('button', { name: 'Send test to CI notifier' }));
    });
    expect(calls.filter((c) => c.method === 'POST')).toEqual([{ method: 'POST', url: '/api/v1/webhooks/w1/test', body: {} }]);
    await waitFor(() => expect(within(item('w1')).getAllByTestId('delivery')).toHaveLength(2));
    expect(within(item('w1')).getAllByTestId('delivery-event').map((e) => e.textContent)).toEqual(['ping', 'reply.completed']);
    expect(toasts()).toContain('A test event is on its way to CI notifier.');
  });

  it("shows the server's refusal of a test (a disabled webhook) as it words it", async () => {
    testAnswer = () => refusal(409, 'the webhook is disabled; enable it to test it');
    show();
    await screen.findByTestId('webhook-list');
    await act(async () => {
      fireEvent.click(within(item('w2')).getByRole('button', { name: 'Send test to https://billing.example.com/in' }));
    });
    await waitFor(() => expect(toasts()).toContain('the webhook is disabled; enable it to test it'));
  });

  it('renders each delivery: event, status in words with an icon, attempts, last result and next attempt', async () => {
    deliveries.w1 = [
      delivery('d4', { status: 'pending', attempts: 2, last_status_code: 503, last_error: null, delivered_at: null, next_attempt_at: 1_733_500_000_000 }),
      delivery('d3', { status: 'delivering', attempts: 1, last_status_code: null, last_error: null, last_attempt_at: null, delivered_at: null }),
      delivery('d2', { event_type: 'reply.failed', status: 'failed', attempts: 8, last_status_code: null, last_error: 'connection refused', delivered_at: null }),
      delivery('d1', {}),
    ];
    show();
    await screen.findByTestId('webhook-list');
    const toggle = within(item('w1')).getByTestId('webhook-deliveries-toggle');
    // The disclosure controls the region the deliveries appear in.
    const region = document.getElementById(toggle.getAttribute('aria-controls') as string) as HTMLElement;
    expect(region.hidden).toBe(true);
    fireEvent.click(toggle);
    await waitFor(() => expect(within(region).getAllByTestId('delivery')).toHaveLength(4));
    expect(calls.at(-1)?.url).toBe('/api/v1/webhooks/w1/deliveries?limit=20');
    expect(within(region).getByRole('table', { name: 'Recent deliveries of CI notifier' })).toBeTruthy();

    const rows = within(region).getAllByTestId('delivery');
    const cell = (row: HTMLElement, id: string) => within(row).getByTestId(id).textContent;
    expect(rows.map((row) => cell(row, 'delivery-status'))).toEqual(['Pending', 'Sending', 'Failed', 'Delivered']);
    // The status is never a colour alone: words, and an icon beside them.
    for (const row of rows) expect(within(row).getByTestId('delivery-status').querySelector('svg')).not.toBeNull();
    expect(rows.map((row) => cell(row, 'delivery-event'))).toEqual(['reply.completed', 'reply.completed', 'reply.failed', 'reply.completed']);
    expect(rows.map((row) => cell(row, 'delivery-attempts'))).toEqual(['2', '1', '8', '1']);
    expect(rows.map((row) => cell(row, 'delivery-result'))).toEqual(['HTTP 503', '—', 'connection refused', 'HTTP 200']);
    expect(rows.map((row) => cell(row, 'delivery-next'))).toEqual([formatDateTime(1_733_500_000_000, 'en'), '—', '—', '—']);
    // A user cannot replay: that is the administrators'.
    expect(within(region).queryByTestId('delivery-replay')).toBeNull();

    fireEvent.click(toggle);
    expect(region.hidden).toBe(true);
    expect(within(region).queryByTestId('webhook-deliveries')).toBeNull();
  });

  it('pages in older deliveries with before = the oldest held', async () => {
    deliveries.w1 = Array.from({ length: 20 }, (_, i) => delivery(`d${40 - i}`, {}));
    show();
    await screen.findByTestId('webhook-list');
    fireEvent.click(within(item('w1')).getByTestId('webhook-deliveries-toggle'));
    const more = await screen.findByTestId('deliveries-more');
    deliveries.w1 = [delivery('d20', { event_type: 'key.created' })];
    await act(async () => {
      fireEvent.click(more);
    });
    expect(calls.at(-1)?.url).toBe('/api/v1/webhooks/w1/deliveries?limit=20&before=d21');
    await waitFor(() => expect(within(item('w1')).getAllByTestId('delivery')).toHaveLength(21));
    expect(screen.queryByTestId('deliveries-more')).toBeNull();
  });

  it('says when nothing has been sent yet', async () => {
    show();
    await screen.findByTestId('webhook-list');
    fireEvent.click(within(item('w2')).getByTestId('webhook-deliveries-toggle'));
    expect((await within(item('w2')).findByTestId('deliveries-empty')).textContent).toBe('Nothing has been sent yet.');
  });

  it('shows nothing against a server that has no webhooks (404)', async () => {
    listStatus = 404;
    show();
    await waitFor(() => expect(calls).toHaveLength(1));
    await act(async () => undefined);
    expect(screen.queryByTestId('webhooks')).toBeNull();
    expect(toasts()).toEqual([]);
  });
});
