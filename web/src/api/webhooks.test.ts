import { beforeEach, describe, expect, it } from 'vitest';
import { ApiError } from './http';
import { json, type RecordedCall, stubRecordingFetch } from './testing';
import { platformWebhooksApi, webhooksApi } from './webhooks';

let calls: RecordedCall[] = [];
let answer: () => Response;

beforeEach(() => {
  calls = [];
  answer = () => json({});
  stubRecordingFetch((call) => calls.push(call), () => answer());
});

const hook = {
  id: 'w1',
  url: 'https://hooks.example.com/in',
  event_types: ['reply.completed'],
  description: '',
  enabled: true,
  scope: 'user',
  created_at: 1,
  updated_at: 1,
};

describe("the user's webhook API", () => {
  it('lists the caller\'s webhooks with the token', async () => {
    answer = () => json({ data: [hook] });
    await expect(webhooksApi.list()).resolves.toEqual({ data: [hook] });
    expect(calls).toEqual([{ url: '/api/v1/webhooks', method: 'GET', body: undefined, auth: 'Bearer a.b.c' }]);
  });

  it('creates one with the body as given and answers the secret', async () => {
    answer = () => json({ ...hook, secret: 'whsec_abc' }, 201);
    const created = await webhooksApi.create({ url: hook.url, event_types: ['reply.completed', 'key.created'], description: 'CI' });
    expect(created.secret).toBe('whsec_abc');
    expect(calls[0]).toMatchObject({
      url: '/api/v1/webhooks',
      method: 'POST',
      body: { url: hook.url, event_types: ['reply.completed', 'key.created'], description: 'CI' },
    });
  });

  it('patches only the fields given', async () => {
    answer = () => json({ ...hook, enabled: false });
    await webhooksApi.update('w1', { enabled: false });
    expect(calls[0]).toMatchObject({ url: '/api/v1/webhooks/w1', method: 'PATCH', body: { enabled: false } });
    expect(Object.keys(calls[0]?.body as object)).toEqual(['enabled']);
  });

  it('deletes by id, escaped into the path', async () => {
    answer = () => new Response(null, { status: 204 });
    await expect(webhooksApi.delete('a/b')).resolves.toBeUndefined();
    expect(calls[0]).toMatchObject({ url: '/api/v1/webhooks/a%2Fb', method: 'DELETE' });
  });

  it('sends a test with a POST and answers the event id', async () => {
    answer = () => json({ event_id: 'e1' }, 202);
    await expect(webhooksApi.test('w1')).resolves.toEqual({ event_id: 'e1' });
    expect(calls[0]).toMatchObject({ url: '/api/v1/webhooks/w1/test', method: 'POST' });
  });

  it('pages deliveries with limit and before, leaving out what is not given', async () => {
    answer = () => json({ data: [] });
    await webhooksApi.deliveries('w1');
    await webhooksApi.deliveries('w1', { limit: 20, before: 'd9' });
    expect(calls.map((c) => c.url)).toEqual(['/api/v1/webhooks/w1/deliveries', '/api/v1/webhooks/w1/deliveries?limit=20&before=d9']);
  });

  it("gives a refusal as an ApiError with the server's `field: reason` message", async () => {
    answer = () => json({ error: { code: 'invalid_request', message: 'url: the host resolves to a loopback address' } }, 400);
    const error = await webhooksApi.create({ url: 'http://127.0.0.1/', event_types: ['reply.completed'] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 400, message: 'url: the host resolves to a loopback address' });
  });
});

describe('the platform webhook API', () => {
  it('makes the same calls under /admin/webhooks', async () => {
    answer = () => json({ data: [] });
    await platformWebhooksApi.list();
    await platformWebhooksApi.deliveries('w2', { limit: 5 });
    answer = () => json({ ...hook, scope: 'platform', secret: 's' }, 201);
    await platformWebhooksApi.create({ url: hook.url, event_types: ['balance.low'] });
    answer = () => json({ event_id: 'e' }, 202);
    await platformWebhooksApi.test('w2');
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'GET /api/v1/admin/webhooks',
      'GET /api/v1/admin/webhooks/w2/deliveries?limit=5',
      'POST /api/v1/admin/webhooks',
      'POST /api/v1/admin/webhooks/w2/test',
    ]);
  });

  it('replays a delivery at /admin/webhook-deliveries/{id}/replay', async () => {
    const queued = { id: 'd1', status: 'pending' };
    answer = () => json(queued, 202);
    await expect(platformWebhooksApi.replay('d1')).resolves.toEqual(queued);
    expect(calls[0]).toMatchObject({ url: '/api/v1/admin/webhook-deliveries/d1/replay', method: 'POST' });
  });
});
