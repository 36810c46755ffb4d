/**
 * abstract-level's own compliance suite (a tape script) run against SqliteLevel, one fresh
 * SQLite file per database the suite asks for. Run as a child process by abstract-level.test.ts.
 *
 * Usage: node abstract-level-suite.js [pageRows] [replica]. The suite's ranges hold about 100
 * keys, so a small page size (the test passes 3) makes every range walk cross many pages. With
 * `replica`, each database is a gateway's replicated store (KvReplica): every write is signed
 * into a batch and merged before it is read back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteLevel, type SqliteLevelOptions } from '../../src/kv/level/sqlite-level.js';
import { soloReplica } from '../helpers/solo-replica.js';

const require = createRequire(import.meta.url);
const test = require('tape') as ((...args: unknown[]) => unknown) & {
  onFinish: (fn: () => void) => void;
};
const suite = require('abstract-level/test') as (options: {
  test: unknown;
  factory: (options?: SqliteLevelOptions<unknown, unknown>) => SqliteLevel<unknown, unknown>;
}) => void;

const pageRows = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const replica = process.argv[3] === 'replica';
const dir = mkdtempSync(join(tmpdir(), 'p2pcloud-kv-suite-'));
let n = 0;
test.onFinish(() => rmSync(dir, { recursive: true, force: true }));

suite({
  test,
  factory: (options) => {
    const location = join(dir, `db-${n++}.sqlite`);
    return replica
      ? soloReplica(location, { pageRows, ...options })
      : new SqliteLevel(location, { pageRows, ...options });
  },
});
