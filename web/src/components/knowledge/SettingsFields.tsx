// A knowledge base's retrieval settings: chunk size and overlap (tokens), results per search,
// score threshold and the weight of semantic against keyword search, each with its limits.

import type { KnowledgeBaseSettings } from '../../api/types';
import { useT, type MessageKey } from '../../i18n';
import { LIMITS, type SettingsErrors } from '../../knowledge/settings';

type Numbers = Pick<KnowledgeBaseSettings, 'chunk_tokens' | 'chunk_overlap' | 'top_k' | 'score_threshold' | 'vector_weight'>;

function NumberField({
  label,
  hint,
  value,
  min,
  max,
  step,
  invalid,
  onChange,
  testId,
}: {
  label: string;
  hint: string;
  value: number;
  min: number;
  max: number;
  step: number;
  invalid: boolean;
  onChange: (value: number) => void;
  testId: string;
}) {
  return (
    <label className="field kb-setting">
      <span>{label}</span>
      <input
        type="number"
        inputMode="decimal"
        min={min}
        max={max}
        step={step}
        value={Number.isNaN(value) ? '' : value}
        aria-invalid={invalid}
        onChange={(e) => onChange(e.target.value === '' ? Number.NaN : Number(e.target.value))}
        data-testid={testId}
      />
      <small className={invalid ? 'form-error' : 'muted'}>{hint}</small>
    </label>
  );
}

export function SettingsFields<T extends Numbers>({ value, errors, onChange }: { value: T; errors: SettingsErrors; onChange: (next: T) => void }) {
  const t = useT();
  const set = (key: keyof Numbers) => (v: number) => onChange({ ...value, [key]: v });
  const range = (key: MessageKey, min: number, max: number) => t(key, { min, max });
  const maxOverlap = Number.isInteger(value.chunk_tokens) ? Math.floor(value.chunk_tokens / 2) : 0;
  return (
    <fieldset className="kb-settings">
      <legend>{t('knowledge.retrievalSettings')}</legend>
      <div className="kb-settings__grid">
        <NumberField
          label={t('knowledge.chunkTokens')}
          hint={range('knowledge.chunkTokensHint', LIMITS.chunk_tokens.min, LIMITS.chunk_tokens.max)}
          value={value.chunk_tokens}
          min={LIMITS.chunk_tokens.min}
          max={LIMITS.chunk_tokens.max}
          step={32}
          invalid={Boolean(errors.chunk_tokens)}
          onChange={set('chunk_tokens')}
          testId="kb-chunk-tokens"
        />
        <NumberField
          label={t('knowledge.chunkOverlap')}
          hint={range('knowledge.chunkOverlapHint', 0, maxOverlap)}
          value={value.chunk_overlap}
          min={0}
          max={maxOverlap}
          step={8}
          invalid={Boolean(errors.chunk_overlap)}
          onChange={set('chunk_overlap')}
          testId="kb-chunk-overlap"
        />
        <NumberField
          label={t('knowledge.topK')}
          hint={range('knowledge.topKHint', LIMITS.top_k.min, LIMITS.top_k.max)}
          value={value.top_k}
          min={LIMITS.top_k.min}
          max={LIMITS.top_k.max}
          step={1}
          invalid={Boolean(errors.top_k)}
          onChange={set('top_k')}
          testId="kb-top-k"
        />
        <NumberField
          label={t('knowledge.scoreThreshold')}
          hint={t('knowledge.scoreThresholdHint')}
          value={value.score_threshold}
          min={0}
          max={1}
          step={0.05}
          invalid={Boolean(errors.score_threshold)}
          onChange={set('score_threshold')}
          testId="kb-score-threshold"
        />
      </div>
      <label className="field kb-setting">
        <span>
          {t('knowledge.vectorWeight')}: <output>{Number.isFinite(value.vector_weight) ? value.vector_weight.toFixed(2) : '—'}</output>
        </span>
        <div className="kb-weight">
          <span className="muted">{t('knowledge.keyword')}</span>
          <input
            type="range"
            min={0}
            max={1}
            step={0.05}
            value={Number.isFinite(value.vector_weight) ? value.vector_weight : 0.5}
            onChange={(e) => set('vector_weight')(Number(e.target.value))}
            aria-label={t('knowledge.vectorWeight')}
            aria-valuetext={t('knowledge.vectorWeightValue', { value: value.vector_weight.toFixed(2) })}
            data-testid="kb-vector-weight"
          />
          <span className="muted">{t('knowledge.semantic')}</span>
        </div>
        <small className="muted">{t('knowledge.vectorWeightHint')}</small>
      </label>
    </fieldset>
  );
}
