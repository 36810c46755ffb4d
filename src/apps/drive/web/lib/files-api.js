// The gateway's files routes (docs/gateway.md §15), called from the page: same origin, with the
// session cookie, like every other call of the page. Uploads go through XMLHttpRequest, the
// one browser API that reports how much of a request body has been sent.

/* global XMLHttpRequest */

import { ApiError, del, get, post } from '../shared/api.js';
import { TEXT_PREVIEW_BYTES } from './kinds.js';

const base = (space) => `/api/spaces/${encodeURIComponent(space)}/files`;

function query(params) {
  return Object.entries(params)
    .filter(([, value]) => value !== undefined && value !== null && value !== '')
    .map(([key, value]) => `${key}=${encodeURIComponent(String(value))}`)
    .join('&');
}

/** The URL of a file's bytes (an earlier version's with `version`; as an attachment with `download`). */
export function contentUrl(space, path, { version, download = false } = {}) {
  return `${base(space)}/content?${query({ path, version, download: download ? 1 : undefined })}`;
}

export function list(space, folder) {
  return get(`${base(space)}/list?${query({ folder })}`);
}

function listAll(space, folder, after) {
  return get(`${base(space)}/list?${query({ folder, recursive: 1, limit: 10000, after })}`);
}

export function stat(space, path) {
  return get(`${base(space)}/stat?${query({ path })}`);
}

export function move(space, from, to) {
  return post(`${base(space)}/move`, { from, to });
}

export function remove(space, path) {
  return del(`${base(space)}/content?${query({ path })}`);
}

/** How long to wait before trying again when the gateway's rate limit says 429, and how often. */
const RETRY_MS = 1000;
const RETRIES = 60;

/** Runs `work`, again after a pause while the gateway's rate limit answers 429. */
export async function patiently(work) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 429) || attempt >= RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }
}

/**
 * Deletes every file under `folder`, one request each (the tree has no folder delete), in
 * pages of the recursive listing. A file someone else deleted meanwhile is passed over; when
 * the gateway's rate limit answers 429 (a folder of thousands of files), it waits and goes on.
 * `onProgress(removed)` after each file. Returns how many it deleted.
 */
export async function removeFolder(space, folder, onProgress) {
  let removed = 0;
  let after;
  do {
    const page = await patiently(() => listAll(space, folder, after));
    for (const file of page.files) {
      try {
        await patiently(() => remove(space, file.path));
        removed += 1;
      } catch (error) {
        if (!(error instanceof ApiError && error.code === 'no_such_file')) throw error;
      }
      onProgress?.(removed);
    }
    after = page.more ? page.after : undefined;
  } while (after !== undefined);
  return removed;
}

export function share(space, folder, member, role) {
  return post(`${base(space)}/share`, { folder, member, role });
}

function errorOf(xhr) {
  let data = {};
  try {
    data = JSON.parse(xhr.responseText || '{}');
  } catch {
    data = {};
  }
  const { code, message, ...details } = data.error ?? {};
  return new ApiError(xhr.status, code ?? 'internal', message ?? `HTTP ${xhr.status}`, details);
}

/**
 * Uploads a File (or Blob) to `path`. `onProgress(sent, total)` follows the body as it leaves
 * the browser; the promise settles with the gateway's answer ({ file, sent, reused }) once the
 * file is in the tree. `signal` aborts it (the tree is then unchanged).
 */
export function upload(space, path, blob, { mediaType, modified, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${base(space)}/content?${query({ path, media_type: mediaType, modified })}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.responseType = 'text';
    xhr.upload.addEventListener('progress', (event) => {
      onProgress?.(event.loaded, event.lengthComputable ? event.total : blob.size);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new Error('the gateway sent an answer that is not JSON'));
        }
      } else reject(errorOf(xhr));
    });
    xhr.addEventListener('error', () => reject(new Error('the connection to the gateway broke')));
    xhr.addEventListener('abort', () => reject(new Error('upload cancelled')));
    signal?.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(blob);
  });
}

/**
 * The first TEXT_PREVIEW_BYTES of a file: one Range request, so that the gateway fetches only
 * the chunks that hold them. An answer with the whole file (a server may ignore the range) is
 * read only that far, then dropped. Returns the bytes, the file's size and whether the bytes
 * are the whole file.
 */
export async function readStart(space, path, version) {
  const response = await fetch(contentUrl(space, path, { version }), {
    headers: { range: `bytes=0-${TEXT_PREVIEW_BYTES - 1}` },
    credentials: 'same-origin',
  });
  if (!response.ok) {
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    throw new ApiError(
      response.status,
      data.error?.code ?? 'internal',
      data.error?.message ?? `HTTP ${response.status}`,
    );
  }
  const range = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '');
  const total = Number(range ? range[1] : (response.headers.get('content-length') ?? NaN));
  const bytes = new Uint8Array(TEXT_PREVIEW_BYTES);
  let length = 0;
  const reader = response.body.getReader();
  while (length < TEXT_PREVIEW_BYTES) {
    const { done, value } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, TEXT_PREVIEW_BYTES - length);
    bytes.set(value.subarray(0, take), length);
    length += take;
  }
  if (length >= TEXT_PREVIEW_BYTES) await reader.cancel().catch(() => undefined);
  const size = Number.isFinite(total) ? total : length;
  return { bytes: bytes.subarray(0, length), total: size, complete: length >= size };
}
