import { describe, expect, it } from 'vitest';
import type { Session } from '../api/types';
import { folderNames, groupSessions } from './sessionGroups';

const session = (id: string, updated: number, extra: Partial<Session> = {}): Session => ({
  id,
  title: id,
  avatar: '🤖',
  description: '',
  agent_id: null,
  system_prompt: '',
  model: 'm',
  temperature: null,
  opening_message: null,
  pinned: false,
  group: '',
  created_at: 0,
  updated_at: updated,
  ...extra,
});

describe('groupSessions', () => {
  const sessions = [
    session('old', 1),
    session('work-b', 5, { group: 'Work' }),
    session('pinned', 0, { pinned: true, group: 'Work' }),
    session('new', 9),
    session('art', 3, { group: 'Art ' }),
    session('work-a', 7, { group: 'Work' }),
  ];

  it('puts pinned first, then folders by name, then the rest, each newest first', () => {
    const groups = groupSessions(sessions);
    expect(groups.map((g) => [g.kind, g.key, g.sessions.map((s) => s.id)])).toEqual([
      ['pinned', 'pinned', ['pinned']],
      ['folder', 'Art', ['art']],
      ['folder', 'Work', ['work-a', 'work-b']],
      ['default', '', ['new', 'old']],
    ]);
  });

  it('filters by title, dropping groups left empty', () => {
    expect(groupSessions(sessions, 'WORK').map((g) => g.key)).toEqual(['Work']);
  });

  it('lists folder names once each', () => {
    expect(folderNames(sessions)).toEqual(['Art', 'Work']);
  });
});
