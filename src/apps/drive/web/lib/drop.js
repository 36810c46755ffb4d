// The files of a drag-and-drop: plain files, or folders with everything in them (through the
// entries API, which lists a folder in batches). No DOM beyond the DataTransfer it is given,
// so that tests run this very file in Node with entries of their own.

import { joinPath } from './paths.js';

/** Most files taken from one drop (a drop of a whole disk is refused, not walked). */
export const DROP_MAX_FILES = 10_000;

/** Every entry of a folder: readEntries answers in batches (100 at a time in Chromium). */
async function readAll(reader) {
  const all = [];
  for (;;) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) return all;
    all.push(...batch);
  }
}

/**
 * Reads every file under dropped entries: [{ blob, relative }], `relative` being the file's
 * path below the drop (`folder/sub/name`), in the order the entries were given.
 */
export async function walkEntries(entries, max = DROP_MAX_FILES) {
  const out = [];
  const fileOf = (entry) => new Promise((resolve, reject) => entry.file(resolve, reject));
  const stack = entries.map((entry) => ({ entry, prefix: '' })).reverse();
  while (stack.length > 0) {
    const { entry, prefix } = stack.pop();
    const relative = joinPath(prefix, entry.name);
    if (entry.isFile) {
      if (out.length >= max) {
        throw new Error(`a drop can hold at most ${max} files: upload fewer at once`);
      }
      out.push({ blob: await fileOf(entry), relative });
    } else if (entry.isDirectory) {
      const children = await readAll(entry.createReader());
      for (const child of children.reverse()) stack.push({ entry: child, prefix: relative });
    }
  }
  return out;
}

/**
 * What a drop holds, as a function that reads it. Called in the drop event itself: the browser
 * empties the DataTransfer once the handler returns, so the entries are taken at once and read
 * afterwards.
 */
export function takeDrop(dataTransfer) {
  const list = [...(dataTransfer.files ?? [])];
  const items = [...(dataTransfer.items ?? [])].filter((item) => item.kind === 'file');
  const entries = items.map((item) => item.webkitGetAsEntry?.() ?? null);
  if (entries.length > 0 && entries.every(Boolean) && entries.some((e) => e.isDirectory)) {
    return () => walkEntries(entries);
  }
  return async () => list.map((blob) => ({ blob, relative: blob.name }));
}
