// Webhooks (dataplane/gateway/NOTES.md "Webhooks"): the events one may subscribe to, which field
// a refusal names, what a new webhook sends, and what a delivery's row shows. Pure.

import type { NewWebhook, Webhook, WebhookDelivery } from '../api/types';

/** Subscribable event types, in the order the form offers them. */
export const EVENT_TYPES = ['reply.completed', 'reply.failed', 'balance.low', 'key.created', 'key.revoked', 'file.indexed'] as const;
export type SubscribableEvent = (typeof EVENT_TYPES)[number];

/** The server's limits. */
export const MAX_URL_CHARS = 2048;
export const MAX_DESCRIPTION_CHARS = 200;

/** Deliveries asked for at once (the server allows up to 100). */
export const DELIVERY_PAGE = 20;
const MAX_DELIVERY_PAGE = 100;

/** What the add form shows beside each field: the server's words after `field: `. */
export interface WebhookFormErrors {
  url?: string;
  event_types?: string;
  description?: string;
  /** Names no field (a limit reached, an unexpected refusal). */
  form?: string;
}

const FIELDS = ['url', 'event_types', 'description'] as const;

/** Where a refusal's message (`field: reason`, as the server words every 400) belongs. */
export function webhookFormErrorOf(message: string): WebhookFormErrors {
  for (const field of FIELDS) {
    if (message.startsWith(`${field}: `)) return { [field]: message.slice(field.length + 2) };
  }
  return { form: message };
}

/** The body of a new webhook: the URL trimmed, the chosen events in the offered order, a description only when given. */
export function newWebhookBody(url: string, events: ReadonlySet<string>, description: string): NewWebhook {
  const text = description.trim();
  return {
    url: url.trim(),
    event_types: EVENT_TYPES.filter((event) => events.has(event)),
    ...(text ? { description: text } : {}),
  };
}

/** What a webhook goes by in labels and questions: its description, else its URL. */
export const webhookName = (hook: Pick<Webhook, 'url' | 'description'>): string => hook.description.trim() || hook.url;

/** A created webhook without its secret: what the list holds. */
export function withoutSecret<T extends Webhook>(hook: T): Webhook {
  const { secret: _secret, ...rest } = hook as T & { secret?: string };
  return rest;
}

/** Delivered or failed for good: nothing more happens unless it is replayed. */
export const deliveryEnded = (delivery: Pick<WebhookDelivery, 'status'>): boolean =>
  delivery.status === 'delivered' || delivery.status === 'failed';

/** Still in the outbox: worth reading again shortly. */
export const deliveryUnderway = (delivery: Pick<WebhookDelivery, 'status'>): boolean =>
  delivery.status === 'pending' || delivery.status === 'delivering';

/** How many deliveries a refresh asks for, so the rows already shown stay (one page at least). */
export const refreshLimit = (held: number): number => Math.min(MAX_DELIVERY_PAGE, Math.max(DELIVERY_PAGE, held));

/** The rows after another page: the held ones, then those not held yet (a row may move between pages while sending). */
export function appendDeliveries(held: readonly WebhookDelivery[], page: readonly WebhookDelivery[]): WebhookDelivery[] {
  const known = new Set(held.map((row) => row.id));
  return [...held, ...page.filter((row) => !known.has(row.id))];
}

/** A row replaced by a newer copy of it (a replay's answer), in place. */
export function replaceDelivery(held: readonly WebhookDelivery[], next: WebhookDelivery): WebhookDelivery[] {
  return held.map((row) => (row.id === next.id ? next : row));
}
