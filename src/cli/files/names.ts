/**
 * Names the command line keeps for itself on disk: the sync's state folder and the partial
 * downloads that are renamed into place once complete. Pure.
 */
import { STATE_DIR } from './state.js';

export const PART_SUFFIX = '.p2pcloud-part';

/**
 * The partial download of version `version` of the file `name`, in the same folder: named
 * after the version, so that a resumed download continues the same bytes, and hidden.
 */
export function partName(name: string, version: string): string {
  const named = `.${name}.${version.slice(0, 16)}${PART_SUFFIX}`;
  return Buffer.byteLength(named) <= 255 ? named : `.${version}${PART_SUFFIX}`;
}

/** Whether a path (relative to a synced folder) is the sync's own: never scanned or written. */
export function isReserved(path: string): boolean {
  return path === STATE_DIR || path.startsWith(`${STATE_DIR}/`) || path.endsWith(PART_SUFFIX);
}

/** A path as printed: control characters written \uXXXX, so a name cannot rewrite the line. */
export function shownPath(path: string): string {
  let out = '';
  for (const c of path) {
    const code = c.charCodeAt(0);
    out +=
      code <= 0x1f || (code >= 0x7f && code <= 0x9f)
        ? `\\u${code.toString(16).padStart(4, '0')}`
        : c;
  }
  return out;
}
