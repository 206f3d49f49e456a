// Knowledge bases and their files (dataplane/rag/src/routes.rs): one function per endpoint.

import { api } from './client';
import type { KnowledgeBase, KnowledgeBaseChange, KnowledgeFile, NewKnowledgeBase, RetrievalHit } from './types';

const id = encodeURIComponent;
const base = (kbId: string) => `/knowledge-bases/${id(kbId)}`;

export const knowledgeApi = {
  list: () => api.get<{ data: KnowledgeBase[] }>('/knowledge-bases'),
  /** Models named as embedding models that the caller can reach (others can still be typed). */
  embeddingModels: () => api.get<{ data: string[] }>('/knowledge-bases/embedding-models'),
  get: (kbId: string) => api.get<KnowledgeBase>(base(kbId)),
  create: (input: NewKnowledgeBase) => api.post<KnowledgeBase>('/knowledge-bases', input),
  update: (kbId: string, change: KnowledgeBaseChange) => api.patch<KnowledgeBase>(base(kbId), change),
  delete: (kbId: string) => api.delete(base(kbId)),

  files: (kbId: string, signal?: AbortSignal) =>
    api.get<{ data: KnowledgeFile[] }>(`${base(kbId)}/files`, signal ? { signal } : {}),
  /** 202: the file is queued for ingestion. */
  addFile: (kbId: string, fileId: string) => api.post<KnowledgeFile>(`${base(kbId)}/files`, { file_id: fileId }),
  removeFile: (kbId: string, fileId: string) => api.delete(`${base(kbId)}/files/${id(fileId)}`),
  retryFile: (kbId: string, fileId: string) => api.post<KnowledgeFile>(`${base(kbId)}/files/${id(fileId)}/retry`),

  search: (kbId: string, query: string, topK?: number) =>
    api.post<{ data: RetrievalHit[] }>(`${base(kbId)}/search`, { query, ...(topK ? { top_k: topK } : {}) }),
};
