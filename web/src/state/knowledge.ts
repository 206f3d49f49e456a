// The user's knowledge bases: listed once for the knowledge page, the session settings picker
// and the chat header's indicator, and updated locally from each mutation's answer.

import { knowledgeApi } from '../api/knowledge';
import type { KnowledgeBase, KnowledgeBaseChange, NewKnowledgeBase } from '../api/types';
import { onAccountReset } from './auth';
import { chatDataStore } from './chatData';
import { createStore } from './store';

interface KnowledgeState {
  bases: KnowledgeBase[];
  loaded: boolean;
  /** The embedding models the server offers; null until asked. */
  embeddingModels: string[] | null;
}

export const knowledgeStore = createStore<KnowledgeState>({ bases: [], loaded: false, embeddingModels: null });
onAccountReset(() => knowledgeStore.set({ bases: [], loaded: false, embeddingModels: null }));

export async function loadEmbeddingModels(): Promise<string[]> {
  const known = knowledgeStore.get().embeddingModels;
  if (known) return known;
  const { data } = await knowledgeApi.embeddingModels();
  knowledgeStore.set({ embeddingModels: data });
  return data;
}

/** Newest first, as the server lists them. */
function put(kb: KnowledgeBase): void {
  knowledgeStore.set((s) => {
    const at = s.bases.findIndex((b) => b.id === kb.id);
    if (at === -1) return { bases: [kb, ...s.bases] };
    const bases = s.bases.slice();
    bases[at] = kb;
    return { bases };
  });
}

export async function loadKnowledgeBases(force = false): Promise<KnowledgeBase[]> {
  if (knowledgeStore.get().loaded && !force) return knowledgeStore.get().bases;
  const { data } = await knowledgeApi.list();
  knowledgeStore.set({ bases: data, loaded: true });
  return data;
}

export async function createKnowledgeBase(input: NewKnowledgeBase): Promise<KnowledgeBase> {
  const kb = await knowledgeApi.create(input);
  put(kb);
  return kb;
}

export async function updateKnowledgeBase(kbId: string, change: KnowledgeBaseChange): Promise<KnowledgeBase> {
  const kb = await knowledgeApi.update(kbId, change);
  put(kb);
  return kb;
}

export async function deleteKnowledgeBase(kbId: string): Promise<void> {
  await knowledgeApi.delete(kbId);
  knowledgeStore.set((s) => ({ bases: s.bases.filter((b) => b.id !== kbId) }));
  // The server drops the base from every session that drew on it; so do the sessions held here.
  chatDataStore.set((s) => ({
    sessions: s.sessions.map((session) =>
      session.knowledge_base_ids?.includes(kbId)
        ? { ...session, knowledge_base_ids: session.knowledge_base_ids.filter((id) => id !== kbId) }
        : session,
    ),
  }));
}

/** Holds a base fetched on its own (a deep link to a base not listed yet). */
export function rememberKnowledgeBase(kb: KnowledgeBase): void {
  put(kb);
}
