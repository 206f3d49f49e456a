// One set of webhooks (the user's or the platform's) as a component holds it: listed on mount,
// updated from each call's answer. The signing secret of a webhook just created is held apart
// from the list, until dismissed or until the list is read again: the server never shows it twice.

import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError } from '../../api/http';
import type { NewWebhook, Webhook } from '../../api/types';
import type { WebhookApi } from '../../api/webhooks';
import { toastError } from '../../state/toasts';
import { withoutSecret } from '../../webhooks/webhooks';

/** The one-time secret of the webhook just created. */
export interface CreatedSecret {
  webhookId: string;
  url: string;
  secret: string;
}

export interface WebhooksState {
  /** Null until listed. */
  hooks: Webhook[] | null;
  /** The server predates webhooks (404 on the list): there is nothing to show. */
  missing: boolean;
  created: CreatedSecret | null;
  /** Reads the list again (and forgets the secret shown). */
  reload: () => Promise<void>;
  add: (input: NewWebhook) => Promise<Webhook>;
  setEnabled: (hook: Webhook, enabled: boolean) => Promise<void>;
  remove: (hook: Webhook) => Promise<void>;
  dismissSecret: () => void;
}

export function useWebhooks(api: WebhookApi): WebhooksState {
  const [hooks, setHooks] = useState<Webhook[] | null>(null);
  const [missing, setMissing] = useState(false);
  const [created, setCreated] = useState<CreatedSecret | null>(null);
  const live = useRef(true);

  const reload = useCallback(async () => {
    try {
      const answer = await api.list();
      if (!live.current) return;
      setHooks(answer.data);
      setCreated(null);
    } catch (error) {
      if (!live.current) return;
      if (error instanceof ApiError && error.status === 404) setMissing(true);
      else toastError(error);
    }
  }, [api]);

  useEffect(() => {
    live.current = true;
    void reload();
    return () => {
      live.current = false;
    };
  }, [reload]);

  const replace = (next: Webhook) => setHooks((held) => held?.map((hook) => (hook.id === next.id ? next : hook)) ?? held);
  const drop = (gone: Webhook) => {
    setHooks((held) => held?.filter((hook) => hook.id !== gone.id) ?? held);
    setCreated((shown) => (shown?.webhookId === gone.id ? null : shown));
  };

  /** A webhook another tab deleted answers 404: the list held is stale. */
  const refreshOnGone = (error: unknown) => {
    if (error instanceof ApiError && error.status === 404) void reload();
  };

  const add = async (input: NewWebhook) => {
    const answer = await api.create(input);
    const hook = withoutSecret(answer);
    if (live.current) {
      setHooks((held) => [...(held ?? []).filter((h) => h.id !== hook.id), hook]);
      setCreated({ webhookId: hook.id, url: hook.url, secret: answer.secret });
    }
    return hook;
  };

  const setEnabled = async (hook: Webhook, enabled: boolean) => {
    try {
      const answer = await api.update(hook.id, { enabled });
      if (live.current) replace(answer);
    } catch (error) {
      refreshOnGone(error);
      throw error;
    }
  };

  const remove = async (hook: Webhook) => {
    try {
      await api.delete(hook.id);
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) throw error;
      // Already gone: what the user asked for.
    }
    if (live.current) drop(hook);
  };

  return { hooks, missing, created, reload, add, setEnabled, remove, dismissSecret: () => setCreated(null) };
}
