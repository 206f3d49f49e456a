import { describe, expect, it } from 'vitest';
import type { Message } from '../api/types';
import {
  afterDelete,
  afterSend,
  mergePage,
  prependOlder,
  replaceFrom,
  siblingPosition,
  siblingTarget,
  withSiblingAdded,
} from './branches';

function message(id: string, parent: string | null, role: Message['role'] = 'user', siblings?: Message['siblings']): Message {
  return {
    id,
    session_id: 's',
    topic_id: 't',
    parent_id: parent,
    role,
    content: id,
    reasoning: '',
    model: null,
    status: 'complete',
    error: null,
    usage: null,
    cost: null,
    currency: 'USD',
    sources: [],
    siblings: siblings ?? { index: 0, count: 1, ids: [id] },
    created_at: 0,
    updated_at: 0,
  };
}

// u1 -> a1 -> u2 -> a2, where u2 has a sibling u2b and a2 has a sibling a2b.
const u1 = message('u1', null);
const a1 = message('a1', 'u1', 'assistant');
const u2 = message('u2', 'a1', 'user', { index: 0, count: 2, ids: ['u2', 'u2b'] });
const a2 = message('a2', 'u2', 'assistant', { index: 1, count: 2, ids: ['a2b', 'a2'] });
const branch = [u1, a1, u2, a2];

describe('sibling navigation', () => {
  it('finds the previous and next sibling and stops at both ends', () => {
    expect(siblingTarget(u2, 1)).toBe('u2b');
    expect(siblingTarget(u2, -1)).toBeNull();
    expect(siblingTarget(a2, -1)).toBe('a2b');
    expect(siblingTarget(a2, 1)).toBeNull();
    expect(siblingTarget(u1, 1)).toBeNull();
  });

  it('shows a position only for messages with siblings', () => {
    expect(siblingPosition(u1)).toBeNull();
    expect(siblingPosition(a2)).toEqual({ current: 2, count: 2 });
  });

  it('tolerates a message whose ids list is shorter than its count', () => {
    const odd = message('x', null, 'user', { index: 0, count: 3, ids: ['x'] });
    expect(siblingTarget(odd, 1)).toBeNull();
  });
});

describe('branch changes', () => {
  it('an edit replaces the edited message and everything below it', () => {
    const edited = message('u2c', 'a1', 'user', { index: 2, count: 3, ids: ['u2', 'u2b', 'u2c'] });
    const reply = message('a3', 'u2c', 'assistant');
    expect(replaceFrom(branch, 'u2', [edited, reply]).map((m) => m.id)).toEqual(['u1', 'a1', 'u2c', 'a3']);
  });

  it('a regenerate replaces only the reply', () => {
    const again = message('a2c', 'u2', 'assistant', { index: 2, count: 3, ids: ['a2b', 'a2', 'a2c'] });
    expect(replaceFrom(branch, 'a2', [again]).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2c']);
  });

  it('a replacement of a message not held appends (it belongs at the end)', () => {
    expect(replaceFrom(branch, 'zz', [message('n', 'a2')]).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2', 'n']);
  });

  it('a delete ends the branch at the parent of the deleted message', () => {
    expect(afterDelete(branch, 'u2').map((m) => m.id)).toEqual(['u1', 'a1']);
    expect(afterDelete(branch, 'u1')).toEqual([]);
  });

  it('a send appends under its parent and never duplicates', () => {
    const u3 = message('u3', 'a2');
    const a3 = message('a3', 'u3', 'assistant');
    expect(afterSend(branch, u3, a3).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2', 'u3', 'a3']);
    expect(afterSend(afterSend(branch, u3, a3), u3, a3).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2', 'u3', 'a3']);
    // Sent under an earlier message: what followed it leaves the view.
    const side = message('u4', 'a1');
    expect(afterSend(branch, side, a3).map((m) => m.id)).toEqual(['u1', 'a1', 'u4', 'a3']);
  });

  it('a new sibling updates the counters of the siblings still shown', () => {
    const sibling = message('b', 'u1', 'assistant', { index: 1, count: 2, ids: ['a1', 'b'] });
    const updated = withSiblingAdded([u1, a1], sibling);
    expect(updated[1]?.siblings).toEqual({ index: 0, count: 2, ids: ['a1', 'b'] });
  });
});

describe('pages', () => {
  it('a refetched page keeps the local copy of a reply whose stream is attached', () => {
    const local = { ...a2, content: 'streamed so far', status: 'streaming' as const };
    const fromServer = { ...a2, content: 'stale', status: 'streaming' as const };
    const merged = mergePage([u1, a1, u2, local], [u1, a1, u2, fromServer], new Set(['a2']));
    expect(merged[3]?.content).toBe('streamed so far');
    expect(mergePage([local], [fromServer], new Set())[0]?.content).toBe('stale');
  });

  it('an older page is prepended without duplicates', () => {
    expect(prependOlder([u2, a2], [u1, a1, u2]).map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2']);
  });
});
