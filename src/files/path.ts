/**
 * Paths of the file tree (docs/files.md §5): one spelling per path (NFC, `/` between
 * segments), refused when it could escape the tree or mean different things on different
 * systems, and a collision key under which names differing only in case or Unicode
 * normalisation are the same name. Pure.
 */

export const MAX_PATH_BYTES = 4096;
export const MAX_SEGMENT_BYTES = 255;
export const MAX_PATH_SEGMENTS = 64;

export type PathRefusal =
  | 'not_unicode'
  | 'empty'
  | 'backslash'
  | 'absolute'
  | 'control'
  | 'too_long'
  | 'empty_segment'
  | 'dot_segment'
  | 'segment_too_long'
  | 'too_deep';

export type PathCheck =
  | { readonly ok: true; readonly path: string; readonly segments: readonly string[] }
  | { readonly ok: false; readonly reason: PathRefusal };

/** C0 controls, DEL and C1 controls: U+0000–U+001F and U+007F–U+009F. */
function isControl(code: number): boolean {
  return code <= 0x1f || (code >= 0x7f && code <= 0x9f);
}

function hasControl(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (isControl(text.charCodeAt(i))) return true;
  return false;
}
// A lone surrogate: not a Unicode scalar value, so the text has no UTF-8 form.
const LONE_SURROGATE_RE = /\p{Surrogate}/u;

/** Checks a path and returns its one spelling, or the first rule it breaks (in this order). */
export function normalizePath(text: string): PathCheck {
  const refuse = (reason: PathRefusal): PathCheck => ({ ok: false, reason });
  if (typeof text !== 'string' || LONE_SURROGATE_RE.test(text)) return refuse('not_unicode');
  if (text.length === 0) return refuse('empty');
  if (text.includes('\\')) return refuse('backslash');
  if (text.startsWith('/')) return refuse('absolute');
  if (hasControl(text)) return refuse('control');
  const path = text.normalize('NFC');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) return refuse('too_long');
  const segments = path.split('/');
  if (segments.length > MAX_PATH_SEGMENTS) return refuse('too_deep');
  for (const segment of segments) {
    if (segment.length === 0) return refuse('empty_segment');
    if (segment === '.' || segment === '..') return refuse('dot_segment');
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES) return refuse('segment_too_long');
  }
  return { ok: true, path, segments };
}

/** Whether `text` is one valid segment: a name within a folder. */
export function isValidName(text: string): boolean {
  const check = normalizePath(text);
  return check.ok && check.segments.length === 1 && check.path === text;
}

/**
 * The collision key of a name: NFC, then Unicode default lower, upper and lower case again,
 * then NFC (the case mappings full and locale-independent). Names with equal keys are one name
 * within a folder: "Readme.md" and "README.md" collide, and so do "ß", "ẞ" and "ss". The first
 * lower case is what makes "ẞ" (which upper case leaves alone) meet "ß" (which it makes "SS").
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').toLowerCase().toUpperCase().toLowerCase().normalize('NFC');
}

/** The collision key of a whole (valid) path: its segments' keys joined by `/`. */
export function pathKey(path: string): string {
  return path.split('/').map(nameKey).join('/');
}

function utcDate(at: number): string {
  if (!Number.isSafeInteger(at) || at < 0) throw new RangeError('a time is non-negative ms');
  return new Date(at).toISOString().slice(0, 10);
}

/** A device name fit for a file name: separators and controls become `_`, at most 40 characters. */
function deviceLabel(device: string): string {
  const cleaned = Array.from(device.replace(/\p{Surrogate}/gu, '_').normalize('NFC'))
    .map((c) => (c === '/' || c === '\\' || isControl(c.charCodeAt(0)) ? '_' : c))
    .join('')
    .trim();
  const label = Array.from(cleaned).slice(0, 40).join('').trim();
  return label.length > 0 ? label : 'unknown device';
}

/**
 * The name under which the losing version of a conflict is kept, beside the winner:
 * `stem (conflict from DEVICE YYYY-MM-DD).ext`, or `… YYYY-MM-DD N).ext` for the N-th (N ≥ 2)
 * when that name is taken too. The extension is what follows the last `.` that is neither the
 * first nor the last character. The stem, then the extension, is shortened (by code points)
 * until the name fits MAX_SEGMENT_BYTES.
 */
export function conflictName(name: string, device: string, at: number, n = 1): string {
  if (!isValidName(name)) throw new RangeError('not a valid name');
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError('n counts from 1');
  const dot = name.lastIndexOf('.');
  const hasExt = dot > 0 && dot < name.length - 1;
  let stem = Array.from(hasExt ? name.slice(0, dot) : name);
  let ext = Array.from(hasExt ? name.slice(dot) : '');
  const note = ` (conflict from ${deviceLabel(device)} ${utcDate(at)}${n > 1 ? ` ${n}` : ''})`;
  const build = (): string => `${stem.join('')}${note}${ext.join('')}`.normalize('NFC');
  while (Buffer.byteLength(build()) > MAX_SEGMENT_BYTES) {
    if (stem.length > 1) stem = stem.slice(0, -1);
    else if (ext.length > 0) ext = ext.slice(0, -1);
    else break;
  }
  const result = build();
  if (!isValidName(result)) throw new RangeError('no conflict name fits');
  return result;
}
