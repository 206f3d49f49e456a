// The fields of an agent (and of a session made from one): name, avatar emoji, description,
// system prompt, model, temperature, opening message. Used by the agent editor and the session
// settings dialog.

import type { Model } from '../api/types';
import { useT } from '../i18n';

export interface AgentFields {
  name: string;
  avatar: string;
  description: string;
  system_prompt: string;
  model: string;
  /** null = the model's default. */
  temperature: number | null;
  opening_message: string;
}

export const EMPTY_AGENT: AgentFields = {
  name: '',
  avatar: '🤖',
  description: '',
  system_prompt: '',
  model: '',
  temperature: null,
  opening_message: '',
};

const AVATARS = ['🤖', '🧠', '🌐', '✍️', '💡', '🧑‍💻', '📚', '🎨', '🔬', '🧮', '🗂️', '🦉'];

export function AgentForm({ value, onChange, models }: { value: AgentFields; onChange: (next: AgentFields) => void; models: Model[] }) {
  const t = useT();
  const set = <K extends keyof AgentFields>(key: K, v: AgentFields[K]) => onChange({ ...value, [key]: v });
  const modelIds = models.map((m) => m.id);
  return (
    <div className="form-grid" data-testid="agent-form">
      <div className="form-row">
        <label className="field field--avatar">
          <span>{t('agent.avatar')}</span>
          <input
            value={value.avatar}
            maxLength={8}
            onChange={(e) => set('avatar', e.target.value)}
            aria-label={t('agent.avatar')}
            data-testid="agent-avatar"
          />
        </label>
        <label className="field field--grow">
          <span>{t('agent.name')}</span>
          <input value={value.name} required maxLength={64} onChange={(e) => set('name', e.target.value)} data-testid="agent-name" />
        </label>
      </div>
      <div className="avatar-choices" role="group" aria-label={t('agent.avatarChoices')}>
        {AVATARS.map((emoji) => (
          <button
            key={emoji}
            type="button"
            className={emoji === value.avatar ? 'avatar-choice avatar-choice--active' : 'avatar-choice'}
            aria-label={emoji}
            aria-pressed={emoji === value.avatar}
            onClick={() => set('avatar', emoji)}
          >
            {emoji}
          </button>
        ))}
      </div>
      <label className="field">
        <span>{t('agent.description')}</span>
        <input value={value.description} maxLength={500} onChange={(e) => set('description', e.target.value)} data-testid="agent-description" />
      </label>
      <label className="field">
        <span>{t('agent.systemPrompt')}</span>
        <textarea
          rows={6}
          value={value.system_prompt}
          placeholder={t('agent.systemPromptPlaceholder')}
          onChange={(e) => set('system_prompt', e.target.value)}
          data-testid="agent-system-prompt"
        />
      </label>
      <div className="form-row">
        <label className="field field--grow">
          <span>{t('agent.model')}</span>
          <select value={value.model} onChange={(e) => set('model', e.target.value)} data-testid="agent-model">
            <option value="">{t('agent.defaultModel')}</option>
            {value.model && !modelIds.includes(value.model) ? <option value={value.model}>{value.model}</option> : null}
            {modelIds.map((id) => (
              <option key={id} value={id}>
                {id}
              </option>
            ))}
          </select>
        </label>
        <label className="field field--grow">
          <span>
            {t('agent.temperature')}: <output>{value.temperature === null ? t('agent.temperatureDefault') : value.temperature.toFixed(1)}</output>
          </span>
          <div className="temperature">
            <input
              type="range"
              min={0}
              max={2}
              step={0.1}
              value={value.temperature ?? 1}
              onChange={(e) => set('temperature', Number(e.target.value))}
              aria-label={t('agent.temperature')}
              data-testid="agent-temperature"
            />
            <button type="button" className="button button--small" onClick={() => set('temperature', null)} disabled={value.temperature === null}>
              {t('agent.reset')}
            </button>
          </div>
        </label>
      </div>
      <label className="field">
        <span>{t('agent.openingMessage')}</span>
        <textarea
          rows={3}
          value={value.opening_message}
          placeholder={t('agent.openingPlaceholder')}
          onChange={(e) => set('opening_message', e.target.value)}
          data-testid="agent-opening"
        />
      </label>
    </div>
  );
}
