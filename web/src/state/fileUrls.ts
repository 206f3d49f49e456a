// Signed download URLs of the user's files (GET /files/{id} -> url, valid about an hour), kept
// until a minute before they expire and fetched once however many thumbnails ask at a time.

import { useEffect, useState } from 'react';
import { filesApi } from '../api/files';
import type { FileInfo } from '../api/types';
import { onAccountReset } from './auth';

/** Refetch this long before the URL's own expiry (seconds). */
const MARGIN_S = 60;

const cache = new Map<string, Promise<FileInfo>>();
const expiry = new Map<string, number>();
onAccountReset(() => {
  cache.clear();
  expiry.clear();
});

/** The file's metadata with a URL that is valid now. */
export function signedFile(fileId: string, now = Date.now()): Promise<FileInfo> {
  const held = cache.get(fileId);
  const expires = expiry.get(fileId);
  if (held && (expires === undefined || expires - MARGIN_S > now / 1000)) return held;
  const pending = filesApi.get(fileId).then(
    (file) => {
      expiry.set(fileId, file.url_expires_at);
      return file;
    },
    (error: unknown) => {
      cache.delete(fileId);
      throw error;
    },
  );
  cache.set(fileId, pending);
  expiry.delete(fileId);
  return pending;
}

/** Only URLs of our own file downloads are used as links and image sources. */
export function isOwnFileUrl(url: string): boolean {
  return url.startsWith('/api/v1/files/');
}

/** A signed URL for `fileId` (null while loading, or when it failed). */
export function useFileUrl(fileId: string | null | undefined): { url: string | null; failed: boolean } {
  const [state, setState] = useState<{ url: string | null; failed: boolean }>({ url: null, failed: false });
  useEffect(() => {
    if (!fileId) return;
    let live = true;
    setState({ url: null, failed: false });
    signedFile(fileId).then(
      (file) => live && setState(isOwnFileUrl(file.url) ? { url: file.url, failed: false } : { url: null, failed: true }),
      () => live && setState({ url: null, failed: true }),
    );
    return () => {
      live = false;
    };
  }, [fileId]);
  return state;
}
