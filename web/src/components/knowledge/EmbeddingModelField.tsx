// The embedding model of a new knowledge base: free text with suggestions (see
// knowledge/settings.ts embeddingChoices: the server offers the models named as embedding
// models; others can be typed). Fixed once the base exists, since vectors of two models cannot
// be compared.

import { useId } from 'react';
import { useT } from '../../i18n';

export function EmbeddingModelField({ value, choices, onChange }: { value: string; choices: readonly string[]; onChange: (model: string) => void }) {
  const t = useT();
  const listId = useId();
  const hintId = useId();
  return (
    <label className="field field--grow">
      <span>{t('knowledge.embeddingModel')}</span>
      <input
        list={listId}
        value={value}
        required
        spellCheck={false}
        autoComplete="off"
        aria-describedby={hintId}
        onChange={(e) => onChange(e.target.value)}
        data-testid="kb-embedding-model"
      />
      <datalist id={listId}>
        {choices.map((model) => (
          <option key={model} value={model} />
        ))}
      </datalist>
      <small id={hintId} className="muted">
        {t('knowledge.embeddingHint')}
      </small>
    </label>
  );
}
