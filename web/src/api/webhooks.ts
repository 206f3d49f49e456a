// Webhooks (dataplane/gateway/NOTES.md "Webhooks"): a user's own under /webhooks, the platform's
// under /admin/webhooks — the same calls at two prefixes — and an administrator's replay of an
// ended delivery.

import { api } from './client';
import type { CreatedWebhook, NewWebhook, Webhook, WebhookDelivery, WebhookPatch } from './types';

const id = encodeURIComponent;

/** A page of deliveries: newest first, `before` = the id of the oldest one held. */
export interface DeliveryPageQuery {
  /** 1–100; the server's default is 50. */
  limit?: number;
  before?: string;
}

/** The calls on one set of webhooks (the caller's, or the platform's). */
export interface WebhookApi {
  /** 404 on a server that predates webhooks. */
  list: () => Promise<{ data: Webhook[] }>;
  /** 201 with the secret, shown this once; 400 `field: reason` (`url`, `event_types`, `description`); 409 at the limit. */
  create: (input: NewWebhook) => Promise<CreatedWebhook>;
  update: (webhookId: string, patch: WebhookPatch) => Promise<Webhook>;
  delete: (webhookId: string) => Promise<void>;
  /** 202: a `ping` to this webhook alone; 409 while it is disabled. */
  test: (webhookId: string) => Promise<{ event_id: string }>;
  deliveries: (webhookId: string, page?: DeliveryPageQuery) => Promise<{ data: WebhookDelivery[] }>;
}

function webhookApiAt(base: string): WebhookApi {
  return {
    list: () => api.get<{ data: Webhook[] }>(base),
    create: (input) => api.post<CreatedWebhook>(base, input),
    update: (webhookId, patch) => api.patch<Webhook>(`${base}/${id(webhookId)}`, patch),
    delete: (webhookId) => api.delete(`${base}/${id(webhookId)}`),
    test: (webhookId) => api.post<{ event_id: string }>(`${base}/${id(webhookId)}/test`),
    deliveries: (webhookId, page = {}) =>
      api.get<{ data: WebhookDelivery[] }>(`${base}/${id(webhookId)}/deliveries`, { query: { limit: page.limit, before: page.before } }),
  };
}

/** The signed-in user's webhooks. */
export const webhooksApi: WebhookApi = webhookApiAt('/webhooks');

/** Platform webhooks (every user's events); administrators only. */
export const platformWebhooksApi = {
  ...webhookApiAt('/admin/webhooks'),
  /** 202 with the delivery queued again (same event id and body); 409 while it has not ended. */
  replay: (deliveryId: string) => api.post<WebhookDelivery>(`/admin/webhook-deliveries/${id(deliveryId)}/replay`),
};
