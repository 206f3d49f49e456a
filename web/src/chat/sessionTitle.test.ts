import { describe, expect, it } from 'vitest';
import { sessionTitle } from './sessionTitle';

const t = ((key: string) => ({ 'session.defaultTitle': '新会话', 'session.untitled': 'Untitled' })[key] ?? key) as Parameters<
  typeof sessionTitle
>[1];

describe('sessionTitle', () => {
  it("says a blank chat's placeholder in the user's language and keeps every other title", () => {
    expect(sessionTitle({ title: 'New chat', title_is_placeholder: true }, t)).toBe('新会话');
    expect(sessionTitle({ title: 'New chat', title_is_placeholder: false }, t)).toBe('New chat');
    expect(sessionTitle({ title: 'Trip to Kyoto' }, t)).toBe('Trip to Kyoto');
    expect(sessionTitle({ title: '' }, t)).toBe('Untitled');
  });
});
