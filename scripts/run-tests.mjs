#!/usr/bin/env node
// Runs the compiled tests with node:test. Usage: node scripts/run-tests.mjs [name-filter ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startCluster } from './postgres.mjs';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');
const filters = process.argv.slice(2);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return walk(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

const files = walk(testDir)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(testDir, f).includes(x)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// One PostgreSQL server for the whole run (tests make a database of their own on it), unless
// one is given. Without it the tests that need it fail, saying so; the others still run.
let cluster;
const env = { ...process.env };
if (!env.P2PCLOUD_TEST_POSTGRES_URL) {
  try {
    cluster = await startCluster();
    env.P2PCLOUD_TEST_POSTGRES_URL = cluster.url;
  } catch (error) {
    console.error(`run-tests: no PostgreSQL for the tests: ${error.message}`);
  }
}
// Ctrl-C reaches the tests through the process group; this process waits for them to end and
// then stops the server instead of leaving it running.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
let result;
try {
  result = spawnSync(
    process.execPath,
    ['--test', '--test-concurrency=2', '--test-timeout=300000', ...files],
    { stdio: 'inherit', cwd: root, env },
  );
} finally {
  cluster?.stop();
}
process.exit(result.status ?? 1);
