// Picks the session's model from the models the user's group may use (GET /models), with each
// model's price per million tokens. The filter box is a combobox: ArrowDown/ArrowUp move through
// the models, Enter picks one, Esc closes. On a phone the list spans the screen's width
// (global.css), since the picker does not sit at the header's right edge there.

import { useEffect, useId, useMemo, useRef, useState } from 'react';
import type { Model } from '../../api/types';
import { useT } from '../../i18n';
import { formatMoney } from '../../lib/format';
import { useListNavigation } from '../../lib/useListNavigation';
import { Icon } from '../Icon';

export function ModelPicker({ models, value, onChange }: { models: Model[]; value: string; onChange: (model: string) => void }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);

  useEffect(() => {
    if (!open) return;
    const onDown = (event: MouseEvent) => {
      if (!root.current?.contains(event.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const close = (refocus: boolean) => {
    setOpen(false);
    if (refocus) button.current?.focus();
  };

  return (
    <div className="model-picker" ref={root}>
      <button
        ref={button}
        type="button"
        className="model-picker__button"
        aria-haspopup="listbox"
        aria-expanded={open}
        aria-label={t('model.pick', { model: value })}
        onClick={() => setOpen((v) => !v)}
        data-testid="model-picker"
      >
        <Icon name="bot" size={15} />
        <span data-testid="model-current">{value || t('model.none')}</span>
        <Icon name="chevron-down" size={14} />
      </button>
      {open ? (
        <ModelList
          models={models}
          value={value}
          onPick={(model) => {
            close(true);
            if (model !== value) onChange(model);
          }}
          onClose={close}
        />
      ) : null}
    </div>
  );
}

/** The open picker: the filter box and the models that match it. */
function ModelList({
  models,
  value,
  onPick,
  onClose,
}: {
  models: Model[];
  value: string;
  onPick: (model: string) => void;
  onClose: (refocus: boolean) => void;
}) {
  const t = useT();
  const listId = useId();
  const [filter, setFilter] = useState('');
  const needle = filter.trim().toLowerCase();
  const shown = useMemo(
    () => models.filter((m) => !needle || m.id.toLowerCase().includes(needle) || m.provider.toLowerCase().includes(needle)),
    [models, needle],
  );
  // The current model is active when the list opens.
  const nav = useListNavigation(shown, (model) => onPick(model.id), Math.max(0, shown.findIndex((m) => m.id === value)));
  const optionId = (index: number) => `${listId}-${index}`;

  useEffect(() => {
    if (nav.activeIndex >= 0) document.getElementById(`${listId}-${nav.activeIndex}`)?.scrollIntoView?.({ block: 'nearest' });
  }, [listId, nav.activeIndex]);

  return (
    <div
      className="popover model-picker__popover"
      data-testid="model-popover"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.stopPropagation();
          onClose(true);
        }
      }}
      onBlur={(e) => {
        // Tab (or a click elsewhere) leaves the picker: close it.
        if (!e.currentTarget.contains(e.relatedTarget as Node | null) && e.relatedTarget) onClose(false);
      }}
    >
      <input
        className="popover__search"
        role="combobox"
        aria-autocomplete="list"
        aria-expanded="true"
        aria-controls={listId}
        aria-activedescendant={nav.activeIndex >= 0 ? optionId(nav.activeIndex) : undefined}
        placeholder={t('model.filter')}
        aria-label={t('model.filter')}
        value={filter}
        autoFocus
        onChange={(e) => setFilter(e.target.value)}
        onKeyDown={nav.onKeyDown}
        data-testid="model-filter"
      />
      <ul id={listId} role="listbox" aria-label={t('model.models')} className="popover__list">
        {shown.map((model, index) => {
          const active = index === nav.activeIndex;
          const classes = ['popover__item', model.id === value ? 'popover__item--current' : '', active ? 'popover__item--active' : ''];
          return (
            <li
              key={model.id}
              id={optionId(index)}
              role="option"
              // The active option is the selected one of the combobox; the current model has a check.
              aria-selected={active}
              className={classes.filter(Boolean).join(' ')}
              onClick={() => onPick(model.id)}
              onMouseMove={active ? undefined : () => nav.setActiveIndex(index)}
              data-testid="model-option"
              data-model={model.id}
            >
              <span className="popover__item-title">
                {model.id}
                {model.id === value ? <Icon name="check" size={14} /> : null}
              </span>
              <span className="popover__item-sub">
                {model.provider}
                {model.price
                  ? ` · ${t('model.price', {
                      input: formatMoney(model.price.input, model.price.currency),
                      output: formatMoney(model.price.output, model.price.currency),
                    })}`
                  : ''}
              </span>
            </li>
          );
        })}
      </ul>
      {shown.length === 0 ? <p className="popover__empty">{t('model.noneFound')}</p> : null}
    </div>
  );
}
