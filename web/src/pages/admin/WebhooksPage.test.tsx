import { act, cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { TOKENS_KEY } from '../../api/tokens';
import type { Webhook, WebhookDelivery } from '../../api/types';
import { ConfirmHost } from '../../components/Confirm';
import { toastStore } from '../../state/toasts';
import WebhooksPage from './WebhooksPage';

afterEach(cleanup);

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
const refusal = (status: number, message: string) => json({ error: { code: status === 409 ? 'conflict' : 'not_found', message } }, status);

const audit: Webhook = {
  id: 'p1',
  url: 'https://audit.internal/hooks',
  event_types: ['key.created', 'key.revoked'],
  description: 'Audit log',
  enabled: true,
  scope: 'platform',
  created_at: 1_733_100_000_000,
  updated_at: 1_733_100_000_000,
};

const delivery = (id: string, status: string, change: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  id,
  webhook_id: 'p1',
  event_id: `e-${id}`,
  event_type: 'key.created',
  status,
  attempts: status === 'failed' ? 8 : 1,
  next_attempt_at: status === 'pending' ? 1_733_500_000_000 : null,
  last_status_code: status === 'failed' ? 500 : status === 'delivered' ? 204 : null,
  last_error: null,
  last_attempt_at: 1_733_200_000_000,
  delivered_at: status === 'delivered' ? 1_733_200_000_000 : null,
  created_at: 1_733_200_000_000,
  payload: { type: 'key.created' },
  ...change,
});

let hooks: Webhook[];
let rows: WebhookDelivery[];
let calls: { method: string; url: string; body: unknown }[];
let replayAnswer: ((id: string) => Response) | null;
let listStatus: number;

beforeEach(() => {
  localStorage.setItem(TOKENS_KEY, JSON.stringify({ access_token: 'a.b.c', refresh_token: 'r' }));
  toastStore.set({ toasts: [] });
  hooks = [audit];
  rows = [delivery('d3', 'failed'), delivery('d2', 'delivered'), delivery('d1', 'pending')];
  calls = [];
  replayAnswer = null;
  listStatus = 200;
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init: RequestInit = {}) => {
    const url = String(input);
    const method = init.method ?? 'GET';
    const body = typeof init.body === 'string' ? (JSON.parse(init.body) as Record<string, unknown>) : undefined;
    calls.push({ method, url, body });
    if (url === '/api/v1/admin/webhooks' && method === 'GET') return listStatus === 200 ? json({ data: hooks }) : refusal(listStatus, 'no route');
    if (url === '/api/v1/admin/webhooks' && method === 'POST') {
      const hook = { ...audit, id: 'p2', url: String(body?.url), event_types: body?.event_types as string[], description: '' };
      hooks = [...hooks, hook];
      return json({ ...hook, secret: 'whsec_platform' }, 201);
    }
    if (url.startsWith('/api/v1/admin/webhooks/p1/deliveries') && method === 'GET') return json({ data: rows });
    if (url === '/api/v1/admin/webhooks/p1/test' && method === 'POST') return json({ event_id: 'e-ping' }, 202);
    const replay = /^\/api\/v1\/admin\/webhook-deliveries\/([^/]+)\/replay$/.exec(url);
    if (replay && method === 'POST') {
      const id = replay[1] as string;
      if (replayAnswer) return replayAnswer(id);
      const queued = delivery(id, 'pending', { attempts: 0, last_status_code: null });
      rows = rows.map((row) => (row.id === id ? queued : row));
      return json(queued, 202);
    }
    return refusal(404, `not found: ${method} ${url}`);
  });
});

function show() {
  return render(
    <>
      <WebhooksPage />
      <ConfirmHost />
    </>,
  );
}

async function openDeliveries() {
  const hook = await screen.findByTestId('webhook');
  fireEvent.click(within(hook).getByRole('button', { name: 'Recent deliveries Audit log' }));
  await waitFor(() => expect(within(hook).getAllByTestId('delivery')).toHaveLength(3));
  return hook;
}

const row = (id: string) => screen.getAllByTestId('delivery').find((tr) => tr.getAttribute('data-id') === id) as HTMLElement;
const toasts = () => toastStore.get().toasts.map((t) => t.text);

describe('the admin Webhooks page', () => {
  it('lists the platform webhooks and adds one at /admin/webhooks, showing its secret once', async () => {
    show();
    const hook = await screen.findByTestId('webhook');
    expect(within(hook).getByTestId('webhook-url-text').textContent).toBe('https://audit.internal/hooks');
    expect(calls[0]).toMatchObject({ method: 'GET', url: '/api/v1/admin/webhooks' });

    fireEvent.change(screen.getByLabelText('Endpoint URL'), { target: { value: 'http://10.0.0.5/in' } });
    fireEvent.click(screen.getByRole('checkbox', { name: /^balance\.low/ }));
    await act(async () => {
      fireEvent.click(screen.getByTestId('webhook-add'));
    });
    expect(calls.at(-1)).toEqual({ method: 'POST', url: '/api/v1/admin/webhooks', body: { url: 'http://10.0.0.5/in', event_types: ['balance.low'] } });
    expect(((await screen.findByLabelText('Signing secret')) as HTMLInputElement).value).toBe('whsec_platform');
    expect(screen.getAllByTestId('webhook')).toHaveLength(2);
  });

  it("reads a webhook's deliveries from /admin/webhooks/{id}/deliveries and offers Replay on ended ones only", async () => {
    show();
    await openDeliveries();
    expect(calls.at(-1)?.url).toBe('/api/v1/admin/webhooks/p1/deliveries?limit=20');
    expect(within(row('d3')).getByTestId('delivery-status').textContent).toBe('Failed');
    expect(within(row('d3')).getByTestId('delivery-result').textContent).toBe('HTTP 500');
    expect(within(row('d3')).getByRole('button', { name: /^Replay key\.created of / })).toBeTruthy();
    expect(within(row('d2')).getByRole('button', { name: /^Replay/ })).toBeTruthy();
    // Still underway: nothing to replay yet.
    expect(within(row('d1')).queryByRole('button')).toBeNull();
  });

  it('replays an ended delivery, shows it pending again and moves the focus to its new status', async () => {
    show();
    await openDeliveries();
    await act(async () => {
      fireEvent.click(within(row('d3')).getByTestId('delivery-replay'));
    });
    expect(calls.filter((c) => c.method === 'POST')).toEqual([{ method: 'POST', url: '/api/v1/admin/webhook-deliveries/d3/replay', body: {} }]);
    await waitFor(() => expect(row('d3').getAttribute('data-status')).toBe('pending'));
    const status = within(row('d3')).getByTestId('delivery-status');
    expect(status.textContent).toBe('Pending');
    expect(within(row('d3')).queryByTestId('delivery-replay')).toBeNull();
    expect(document.activeElement).toBe(status);
    expect(toasts()).toContain('The delivery is queued to be sent again.');
    // The other rows are as they were.
    expect(row('d2').getAttribute('data-status')).toBe('delivered');
  });

  it('shows a 409 (the delivery is underway again) as the server words it and reads the deliveries again', async () => {
    replayAnswer = () => refusal(409, 'the delivery has not ended yet; it is still being retried');
    show();
    await openDeliveries();
    const reads = calls.filter((c) => c.url.includes('/deliveries')).length;
    rows = rows.map((r) => (r.id === 'd2' ? delivery('d2', 'delivering') : r));
    await act(async () => {
      fireEvent.click(within(row('d2')).getByTestId('delivery-replay'));
    });
    await waitFor(() => expect(toasts()).toContain('the delivery has not ended yet; it is still being retried'));
    await waitFor(() => expect(row('d2').getAttribute('data-status')).toBe('delivering'));
    expect(calls.filter((c) => c.url.includes('/deliveries')).length).toBe(reads + 1);
  });

  it('sends a test to a platform webhook at /admin/webhooks/{id}/test', async () => {
    show();
    const hook = await screen.findByTestId('webhook');
    await act(async () => {
      fireEvent.click(within(hook).getByRole('button', { name: 'Send test to Audit log' }));
    });
    expect(calls.at(-1)).toEqual({ method: 'POST', url: '/api/v1/admin/webhooks/p1/test', body: {} });
  });

  it('says the server has no webhooks when the list is a 404', async () => {
    listStatus = 404;
    show();
    expect((await screen.findByTestId('admin-webhooks-unavailable')).textContent).toBe('This server does not support webhooks.');
    expect(screen.queryByTestId('webhook-form')).toBeNull();
  });
});
