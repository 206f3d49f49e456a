import { describe, expect, it } from 'vitest';
import type { CreatedWebhook, WebhookDelivery } from '../api/types';
import {
  DELIVERY_PAGE,
  EVENT_TYPES,
  appendDeliveries,
  deliveryEnded,
  deliveryUnderway,
  newWebhookBody,
  refreshLimit,
  replaceDelivery,
  webhookFormErrorOf,
  webhookName,
  withoutSecret,
} from './webhooks';

const delivery = (id: string, status = 'delivered'): WebhookDelivery => ({
  id,
  webhook_id: 'w1',
  event_id: `e-${id}`,
  event_type: 'ping',
  status,
  attempts: 1,
  next_attempt_at: null,
  last_status_code: 200,
  last_error: null,
  last_attempt_at: 1,
  delivered_at: 1,
  created_at: 1,
  payload: {},
});

describe('webhookFormErrorOf', () => {
  it.each([
    ['url: the host resolves to a loopback address', { url: 'the host resolves to a loopback address' }],
    ['event_types: name at least one event type', { event_types: 'name at least one event type' }],
    ['description: at most 200 characters', { description: 'at most 200 characters' }],
    ['at most 10 webhooks per account', { form: 'at most 10 webhooks per account' }],
    // A field this form does not have, or a prefix without its separator, names no field here.
    ['enabled: must be a boolean', { form: 'enabled: must be a boolean' }],
    ['urls are checked', { form: 'urls are checked' }],
  ])('puts %j beside the field it names', (message, expected) => {
    expect(webhookFormErrorOf(message)).toEqual(expected);
  });
});

describe('newWebhookBody', () => {
  it('trims the URL, sends the chosen events in the offered order, and a description only when given', () => {
    expect(newWebhookBody('  https://x.example.com/in ', new Set(['file.indexed', 'reply.completed']), '   ')).toEqual({
      url: 'https://x.example.com/in',
      event_types: ['reply.completed', 'file.indexed'],
    });
    expect(newWebhookBody('https://x.example.com/in', new Set(['balance.low']), ' Billing ')).toEqual({
      url: 'https://x.example.com/in',
      event_types: ['balance.low'],
      description: 'Billing',
    });
  });

  it('never sends what is not offered (ping cannot be subscribed to)', () => {
    expect(newWebhookBody('https://x', new Set(['ping', 'key.revoked']), '').event_types).toEqual(['key.revoked']);
    expect(EVENT_TYPES).not.toContain('ping');
  });
});

describe('a webhook as listed', () => {
  it('drops the secret of a creation answer', () => {
    const created: CreatedWebhook = {
      id: 'w1',
      url: 'https://x',
      event_types: ['reply.completed'],
      description: '',
      enabled: true,
      scope: 'user',
      created_at: 1,
      updated_at: 1,
      secret: 'whsec_x',
    };
    const listed = withoutSecret(created);
    expect('secret' in listed).toBe(false);
    expect(listed.id).toBe('w1');
  });

  it('goes by its description, else its URL', () => {
    expect(webhookName({ url: 'https://x', description: ' CI ' })).toBe('CI');
    expect(webhookName({ url: 'https://x', description: '  ' })).toBe('https://x');
  });
});

describe('deliveries', () => {
  it('have ended when delivered or failed, and are underway while pending or delivering', () => {
    expect(['pending', 'delivering', 'delivered', 'failed', 'other'].map((s) => deliveryEnded({ status: s }))).toEqual([false, false, true, true, false]);
    expect(['pending', 'delivering', 'delivered', 'failed', 'other'].map((s) => deliveryUnderway({ status: s }))).toEqual([true, true, false, false, false]);
  });

  it('are refreshed with at least one page and at most the server\'s hundred, keeping the rows shown', () => {
    expect(refreshLimit(0)).toBe(DELIVERY_PAGE);
    expect(refreshLimit(DELIVERY_PAGE + 7)).toBe(DELIVERY_PAGE + 7);
    expect(refreshLimit(500)).toBe(100);
  });

  it('gain a page without repeating a row already held', () => {
    const rows = appendDeliveries([delivery('3'), delivery('2')], [delivery('2'), delivery('1')]);
    expect(rows.map((r) => r.id)).toEqual(['3', '2', '1']);
  });

  it('take a replayed copy in place', () => {
    const rows = replaceDelivery([delivery('2', 'failed'), delivery('1')], delivery('2', 'pending'));
    expect(rows.map((r) => `${r.id}:${r.status}`)).toEqual(['2:pending', '1:delivered']);
  });
});
