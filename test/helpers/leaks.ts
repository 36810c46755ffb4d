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

/** Whether `haystack` holds `value` as raw bytes, hex or base64url (any 16-byte part of it). */
export function holds(haystack: Buffer, value: Buffer): boolean {
  const text = haystack.toString('latin1');
  const part = value.subarray(0, 16);
  return (
    haystack.includes(part) ||
    text.includes(part.toString('hex')) ||
    text.includes(value.toString('base64url').slice(0, 22))
  );
}
