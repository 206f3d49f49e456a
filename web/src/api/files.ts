// Uploaded files (dataplane/gateway/src/routes/files.rs): multipart upload with progress, and
// metadata whose `url` is a signed download path (expiring; needs no token, so it works as an
// <img src> or a plain link).

import { api } from './client';
import type { UploadOptions } from './http';
import type { FileInfo } from './types';

const id = encodeURIComponent;

export const filesApi = {
  /** 201 with a new file, or 200 with the caller's file of the same content. */
  upload: (file: File, options?: UploadOptions) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return api.upload<FileInfo>('/files', form, options);
  },
  get: (fileId: string) => api.get<FileInfo>(`/files/${id(fileId)}`),
  delete: (fileId: string) => api.delete(`/files/${id(fileId)}`),
};
