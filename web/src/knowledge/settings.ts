// A knowledge base's settings and their limits (dataplane/rag/src/routes.rs KbBody::apply),
// checked before they are sent so the form can say what is wrong next to the field. And the
// embedding models to offer: GET /models lists chat models only, so the choices are the
// models the user's bases already use, anything in /models whose name says "embed", and the
// common OpenAI names; the server refuses a model the user cannot embed with.

import type { KnowledgeBaseSettings } from '../api/types';

export const LIMITS = {
  name: { max: 100 },
  description: { max: 2000 },
  chunk_tokens: { min: 64, max: 8192 },
  top_k: { min: 1, max: 50 },
} as const;

/** The server's defaults for a new base. */
export const DEFAULT_SETTINGS: Omit<KnowledgeBaseSettings, 'name' | 'description'> = {
  chunk_tokens: 512,
  chunk_overlap: 64,
  top_k: 5,
  score_threshold: 0,
  vector_weight: 0.5,
};

export type SettingsField = keyof KnowledgeBaseSettings;
export type SettingsErrors = Partial<Record<SettingsField, 'required' | 'tooLong' | 'range'>>;

const integerIn = (value: number, min: number, max: number) => Number.isInteger(value) && value >= min && value <= max;
const fraction = (value: number) => Number.isFinite(value) && value >= 0 && value <= 1;

export function validateSettings(settings: KnowledgeBaseSettings): SettingsErrors {
  const errors: SettingsErrors = {};
  const name = settings.name.trim();
  if (!name) errors.name = 'required';
  else if ([...name].length > LIMITS.name.max) errors.name = 'tooLong';
  if ([...settings.description].length > LIMITS.description.max) errors.description = 'tooLong';
  if (!integerIn(settings.chunk_tokens, LIMITS.chunk_tokens.min, LIMITS.chunk_tokens.max)) errors.chunk_tokens = 'range';
  const maxOverlap = Number.isInteger(settings.chunk_tokens) ? Math.floor(settings.chunk_tokens / 2) : 0;
  if (!integerIn(settings.chunk_overlap, 0, maxOverlap)) errors.chunk_overlap = 'range';
  if (!integerIn(settings.top_k, LIMITS.top_k.min, LIMITS.top_k.max)) errors.top_k = 'range';
  if (!fraction(settings.score_threshold)) errors.score_threshold = 'range';
  if (!fraction(settings.vector_weight)) errors.vector_weight = 'range';
  return errors;
}

/** Fields that differ from `before`, for a PATCH that touches only what changed. */
export function changedSettings(before: KnowledgeBaseSettings, after: KnowledgeBaseSettings): Partial<KnowledgeBaseSettings> {
  const change: Partial<KnowledgeBaseSettings> = {};
  for (const key of Object.keys(after) as SettingsField[]) {
    if (after[key] !== before[key]) (change as Record<string, unknown>)[key] = after[key];
  }
  if (change.name !== undefined) change.name = change.name.trim();
  return change;
}

const COMMON_EMBEDDING_MODELS = ['text-embedding-3-small', 'text-embedding-3-large', 'text-embedding-ada-002'];

const isEmbedding = (model: string) => model.toLowerCase().includes('embed');

/**
 * Embedding models to offer, best guesses first: those the user's bases already use, then those
 * the server offers (GET /knowledge-bases/embedding-models), or the common names when it offers
 * none.
 */
export function embeddingChoices(usedByBases: readonly string[], offered: readonly string[]): string[] {
  const choices: string[] = [];
  for (const model of [...usedByBases, ...(offered.length ? offered : COMMON_EMBEDDING_MODELS)]) {
    if (model && !choices.includes(model)) choices.push(model);
  }
  return choices;
}

/** The model a new base starts with: the first choice whose name contains "embed". */
export function defaultEmbeddingModel(choices: readonly string[]): string {
  return choices.find(isEmbedding) ?? choices[0] ?? '';
}
