/**
 * abstract-level's own compliance suite (a tape script) run against SqliteLevel, one fresh
 * SQLite file per database the suite asks for. Run as a child process by abstract-level.test.ts.
 *
 * Usage: node abstract-level-suite.js [pageRows]. The suite's ranges hold about 100 keys, so a
 * small page size (the test passes 3) makes every range walk cross many pages.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteLevel, type SqliteLevelOptions } from '../../src/kv/level/sqlite-level.js';

const require = createRequire(import.meta.url);
const test = require('tape') as ((...args: unknown[]) => unknown) & {
  onFinish: (fn: () => void) => void;
};
const suite = require('abstract-level/test') as (options: {
  test: unknown;
  factory: (options?: SqliteLevelOptions<unknown, unknown>) => SqliteLevel<unknown, unknown>;
}) => void;

const pageRows = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const dir = mkdtempSync(join(tmpdir(), 'p2pcloud-kv-suite-'));
let n = 0;
test.onFinish(() => rmSync(dir, { recursive: true, force: true }));

suite({
  test,
  factory: (options) => new SqliteLevel(join(dir, `db-${n++}.sqlite`), { pageRows, ...options }),
});
