/**
 * Checks of decoded JSON that the files formats share (docs/files.md: manifests, pages and
 * tree records are refused whole unless every member is exactly as specified).
 */

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether the object has these members and no others. */
export function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

/** An integer 0 … 2^53 − 1. */
export function isCount(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}
