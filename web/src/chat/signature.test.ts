import { describe, expect, it } from 'vitest';
import { replySignature } from './signature';

describe('replySignature', () => {
  it('signs an agent chat with the agent and a blank chat with the model that answered', () => {
    expect(replySignature({ agent_id: 'a1', title: 'Translator', model: 'gpt-4o' }, { model: 'gpt-4o' })).toBe('Translator');
    expect(replySignature({ agent_id: null, title: 'New chat', model: 'gpt-4o' }, { model: 'claude-sonnet' })).toBe('claude-sonnet');
    expect(replySignature({ agent_id: null, title: 'New chat', model: 'gpt-4o' }, { model: null })).toBe('gpt-4o');
  });
});
