// Adding a webhook: its URL, the events it receives (at least one) and an optional description.
// A refusal goes beside the field it names (`url: …`, `event_types: …`, `description: …`), and
// the focus with it; one naming no field (the limit of 10) goes under the form.

import { useId, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/http';
import type { NewWebhook } from '../../api/types';
import { useT, type MessageKey } from '../../i18n';
import { toast, toastError } from '../../state/toasts';
import { EVENT_TYPES, MAX_DESCRIPTION_CHARS, MAX_URL_CHARS, newWebhookBody, webhookFormErrorOf, type SubscribableEvent, type WebhookFormErrors } from '../../webhooks/webhooks';
import { FieldError } from '../FieldError';
import { Icon } from '../Icon';

const EVENT_LABEL: Record<SubscribableEvent, MessageKey> = {
  'reply.completed': 'webhooks.event.replyCompleted',
  'reply.failed': 'webhooks.event.replyFailed',
  'balance.low': 'webhooks.event.balanceLow',
  'key.created': 'webhooks.event.keyCreated',
  'key.revoked': 'webhooks.event.keyRevoked',
  'file.indexed': 'webhooks.event.fileIndexed',
};

export function AddWebhookForm({ onAdd }: { onAdd: (input: NewWebhook) => Promise<unknown> }) {
  const t = useT();
  const ids = useId();
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState<ReadonlySet<string>>(new Set());
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<WebhookFormErrors>({});
  const [busy, setBusy] = useState(false);
  const urlInput = useRef<HTMLInputElement>(null);
  const firstEvent = useRef<HTMLInputElement>(null);
  const descriptionInput = useRef<HTMLInputElement>(null);

  const ready = url.trim() !== '' && events.size > 0;

  const toggleEvent = (event: string, on: boolean) => {
    setEvents((held) => {
      const next = new Set(held);
      if (on) next.add(event);
      else next.delete(event);
      return next;
    });
    setErrors(({ event_types: _events, form: _form, ...rest }) => rest);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (busy || !ready) return;
    setBusy(true);
    setErrors({});
    try {
      await onAdd(newWebhookBody(url, events, description));
      setUrl('');
      setEvents(new Set());
      setDescription('');
      toast(t('webhooks.added'), 'success', 2500);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 400 || error.status === 409)) {
        const found = error.status === 400 ? webhookFormErrorOf(error.message) : { form: error.message };
        setErrors(found);
        // Take the user to what needs fixing.
        const target = found.url ? urlInput.current : found.event_types ? firstEvent.current : found.description ? descriptionInput.current : null;
        target?.focus();
      } else toastError(error);
    } finally {
      setBusy(false);
    }
  };

  const urlError = `${ids}-url-error`;
  const eventsHint = `${ids}-events-hint`;
  const eventsError = `${ids}-events-error`;
  const descriptionError = `${ids}-description-error`;
  return (
    <form className="webhook-form" onSubmit={submit} noValidate data-testid="webhook-form">
      <h3>{t('webhooks.addTitle')}</h3>
      <div className="field">
        <label className="field">
          <span>{t('webhooks.url')}</span>
          <input
            ref={urlInput}
            type="url"
            value={url}
            required
            maxLength={MAX_URL_CHARS}
            spellCheck={false}
            autoComplete="off"
            placeholder="https://example.com/hooks/oblivious"
            aria-invalid={errors.url ? true : undefined}
            aria-describedby={errors.url ? urlError : undefined}
            onChange={(e) => {
              setUrl(e.target.value);
              setErrors(({ url: _url, form: _form, ...rest }) => rest);
            }}
            data-testid="webhook-url"
          />
        </label>
        <FieldError id={urlError} text={errors.url} testId="webhook-url-error" alert />
      </div>
      <fieldset
        className="webhook-form__events"
        aria-describedby={errors.event_types ? `${eventsHint} ${eventsError}` : eventsHint}
        data-testid="webhook-events-fieldset"
      >
        <legend>{t('webhooks.eventTypes')}</legend>
        <p id={eventsHint} className="muted webhook-form__hint">
          {t('webhooks.eventTypesHint')}
        </p>
        <ul className="webhook-form__choices">
          {EVENT_TYPES.map((name, index) => (
            <li key={name}>
              <label className="webhook-form__choice">
                <input
                  ref={index === 0 ? firstEvent : undefined}
                  type="checkbox"
                  checked={events.has(name)}
                  aria-invalid={errors.event_types ? true : undefined}
                  onChange={(e) => toggleEvent(name, e.target.checked)}
                  data-testid="webhook-event"
                  data-event={name}
                />
                <code>{name}</code>
                <span className="muted">{t(EVENT_LABEL[name])}</span>
              </label>
            </li>
          ))}
        </ul>
        <FieldError id={eventsError} text={errors.event_types} testId="webhook-events-error" alert />
      </fieldset>
      <div className="field">
        <label className="field">
          <span>{t('webhooks.description')}</span>
          <input
            ref={descriptionInput}
            value={description}
            maxLength={MAX_DESCRIPTION_CHARS}
            autoComplete="off"
            aria-invalid={errors.description ? true : undefined}
            aria-describedby={errors.description ? descriptionError : undefined}
            onChange={(e) => {
              setDescription(e.target.value);
              setErrors(({ description: _description, form: _form, ...rest }) => rest);
            }}
            data-testid="webhook-description"
          />
        </label>
        <FieldError id={descriptionError} text={errors.description} testId="webhook-description-error" alert />
      </div>
      {errors.form ? (
        <p className="form-error" role="alert" data-testid="webhook-form-error">
          {errors.form}
        </p>
      ) : null}
      <button type="submit" className="button button--primary" disabled={busy || !ready} data-testid="webhook-add">
        <Icon name="plus" /> {t('webhooks.add')}
      </button>
    </form>
  );
}
