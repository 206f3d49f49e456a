// How the left rail orders and groups sessions: pinned first, then by folder (`group`), each
// most recently updated first; ungrouped sessions last under the default heading.

import type { Session } from '../api/types';

export function sortSessions(sessions: readonly Session[]): Session[] {
  return [...sessions].sort((a, b) => Number(b.pinned) - Number(a.pinned) || b.updated_at - a.updated_at);
}

export interface SessionGroup {
  /** `pinned`, `''` (ungrouped) or the folder name. */
  key: string;
  kind: 'pinned' | 'folder' | 'default';
  sessions: Session[];
}

export function groupSessions(sessions: readonly Session[], filter = ''): SessionGroup[] {
  const needle = filter.trim().toLowerCase();
  const shown = sortSessions(sessions).filter(
    (s) => !needle || s.title.toLowerCase().includes(needle) || s.description.toLowerCase().includes(needle),
  );
  const pinned: Session[] = [];
  const folders = new Map<string, Session[]>();
  const rest: Session[] = [];
  for (const session of shown) {
    if (session.pinned) pinned.push(session);
    else if (session.group.trim()) {
      const name = session.group.trim();
      folders.set(name, [...(folders.get(name) ?? []), session]);
    } else rest.push(session);
  }
  const groups: SessionGroup[] = [];
  if (pinned.length) groups.push({ key: 'pinned', kind: 'pinned', sessions: pinned });
  for (const name of [...folders.keys()].sort((a, b) => a.localeCompare(b))) {
    groups.push({ key: name, kind: 'folder', sessions: folders.get(name) as Session[] });
  }
  if (rest.length) groups.push({ key: '', kind: 'default', sessions: rest });
  return groups;
}

/** Folder names in use, for the session settings' suggestions. */
export function folderNames(sessions: readonly Session[]): string[] {
  return [...new Set(sessions.map((s) => s.group.trim()).filter(Boolean))].sort((a, b) => a.localeCompare(b));
}
