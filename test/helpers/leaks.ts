/**
 * Searching what a process left behind (its files, its log) for values it must not keep: a
 * value counts as found in raw bytes, hex or base64url, the forms a program would write it in.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every file under a directory (the SQLite files, their WAL, anything in subdirectories), as one buffer. */
export function filesUnder(dir: string): Buffer {
  const parts: Buffer[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) parts.push(filesUnder(path));
    else if (entry.isFile()) parts.push(readFileSync(path));
  }
  return Buffer.concat(parts);
}

/**
 * Whether `haystack` holds `value` (of 17 bytes or more) as raw bytes, hex or base64url. In
 * base64url a value inside a longer text is encoded differently at each of the 3 byte offsets
 * it can start at, so each is tried: 15 bytes from offset 0, 1 or 2 make 20 characters that do
 * not depend on the bytes around the value.
 */
export function holds(haystack: Buffer, value: Buffer): boolean {
  if (value.length < 17) throw new Error('holds() searches for values of 17 bytes or more');
  const text = haystack.toString('latin1');
  const part = value.subarray(0, 16);
  return (
    haystack.includes(part) ||
    text.includes(part.toString('hex')) ||
    [0, 1, 2].some((k) => text.includes(value.subarray(k, k + 15).toString('base64url')))
  );
}
