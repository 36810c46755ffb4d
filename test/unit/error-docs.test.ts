/**
 * docs/protocol.md documents every error code, with the HTTP status of src/errors.ts, and
 * documents no code that does not exist. Both directions are checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/errors.js';
import { repoRoot } from '../helpers/paths.js';

/** The rows of the error code table: | `code` | status | meaning |. */
function documentedCodes(): Map<string, number> {
  const text = readFileSync(join(repoRoot, 'docs', 'protocol.md'), 'utf8');
  const lines = text.split('\n');
  const header = lines.findIndex((line) => /^\|\s*Code\s*\|\s*HTTP status\s*\|/.test(line));
  assert.ok(header >= 0, 'docs/protocol.md has no table headed | Code | HTTP status | … |');
  const codes = new Map<string, number>();
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const match = /^\|\s*`([a-z0-9_]+)`\s*\|\s*(\d{3})\s*\|/.exec(line);
    assert.ok(match, `unexpected row in the error table: ${line}`);
    assert.ok(!codes.has(match[1]!), `${match[1]} is documented twice`);
    codes.set(match[1]!, Number(match[2]));
  }
  return codes;
}

test('every error code is documented in docs/protocol.md with its HTTP status', () => {
  const documented = documentedCodes();
  for (const [code, { status }] of Object.entries(ERROR_CODES)) {
    assert.ok(documented.has(code), `${code} is missing from the error table`);
    assert.equal(documented.get(code), status, `${code}: documented status differs`);
  }
});

test('every code in the documented error table exists', () => {
  for (const code of documentedCodes().keys()) {
    assert.ok(Object.hasOwn(ERROR_CODES, code), `${code} is documented but does not exist`);
  }
});
