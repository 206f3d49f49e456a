// Picks the session's model from the models the user's group may use (GET /models), with each
// model's price per million tokens.

import { useEffect, useId, useRef, useState } from 'react';
import type { Model } from '../../api/types';
import { useT } from '../../i18n';
import { formatMoney } from '../../lib/format';
import { Icon } from '../Icon';

export function ModelPicker({ models, value, onChange }: { models: Model[]; value: string; onChange: (model: string) => void }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const [filter, setFilter] = useState('');
  const root = useRef<HTMLDivElement>(null);
  const listId = useId();

  useEffect(() => {
    if (!open) return;
    const onDown = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const needle = filter.trim().toLowerCase();
  const shown = models.filter((m) => !needle || m.id.toLowerCase().includes(needle) || m.provider.toLowerCase().includes(needle));

  return (
    <div className="model-picker" ref={root}>
      <button
        type="button"
        className="model-picker__button"
        aria-haspopup="listbox"
        aria-expanded={open}
        aria-controls={listId}
        aria-label={t('model.pick', { model: value })}
        onClick={() => setOpen((v) => !v)}
        data-testid="model-picker"
      >
        <Icon name="bot" size={15} />
        <span data-testid="model-current">{value || t('model.none')}</span>
        <Icon name="chevron-down" size={14} />
      </button>
      {open ? (
        <div
          className="popover model-picker__popover"
          onKeyDown={(e) => {
            if (e.key === 'Escape') {
              e.stopPropagation();
              setOpen(false);
            }
          }}
        >
          <input
            className="popover__search"
            placeholder={t('model.filter')}
            aria-label={t('model.filter')}
            value={filter}
            autoFocus
            onChange={(e) => setFilter(e.target.value)}
          />
          <ul id={listId} role="listbox" aria-label={t('model.models')} className="popover__list">
            {shown.map((model) => (
              <li key={model.id} role="option" aria-selected={model.id === value}>
                <button
                  type="button"
                  className={model.id === value ? 'popover__item popover__item--active' : 'popover__item'}
                  data-testid="model-option"
                  data-model={model.id}
                  onClick={() => {
                    setOpen(false);
                    setFilter('');
                    if (model.id !== value) onChange(model.id);
                  }}
                >
                  <span className="popover__item-title">{model.id}</span>
                  <span className="popover__item-sub">
                    {model.provider}
                    {model.price
                      ? ` · ${t('model.price', {
                          input: formatMoney(model.price.input, model.price.currency),
                          output: formatMoney(model.price.output, model.price.currency),
                        })}`
                      : ''}
                  </span>
                </button>
              </li>
            ))}
            {shown.length === 0 ? <li className="popover__empty">{t('model.noneFound')}</li> : null}
          </ul>
        </div>
      ) : null}
    </div>
  );
}
