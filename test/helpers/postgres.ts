/**
 * PostgreSQL for the tests: the server that scripts/run-tests.mjs started for the whole run
 * (its URL in P2PCLOUD_TEST_POSTGRES_URL), a fresh database of it per test, and dedicated
 * clusters that fault tests may stop and restart.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after } from 'node:test';
import pg from 'pg';

export interface Cluster {
  readonly url: string;
  readonly port: number;
  /** Immediate shutdown (in-flight transactions roll back), then start again. */
  restart(): void;
  /** Stops the server, keeping its files. */
  halt(): void;
  start(): void;
  stop(): void;
}

/** The run's server; a test that needs PostgreSQL and finds none fails saying how to get it. */
export function serverUrl(): string {
  const url = process.env.P2PCLOUD_TEST_POSTGRES_URL;
  if (!url) {
    throw new Error(
      'no PostgreSQL for the tests: run them through scripts/run-tests.mjs (it starts one; needs Debian\'s "postgresql" package) or set P2PCLOUD_TEST_POSTGRES_URL',
    );
  }
  return url;
}

/** The URL of the same server with another database name. */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

/** A new, empty database on `server` (default: the run's), dropped when the test process ends. */
export async function freshDatabase(server = serverUrl()): Promise<string> {
  const name = `t_${randomBytes(8).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  dropAtExit(server, name);
  return withDatabase(server, name);
}

const toDrop = new Map<string, string[]>();

/**
 * Databases are dropped when the test process has nothing left to do, not when the test that
 * made them ends: a store may be shared by the tests of a file.
 */
function dropAtExit(server: string, name: string): void {
  if (toDrop.size === 0) process.once('beforeExit', () => void dropAll());
  toDrop.set(server, [...(toDrop.get(server) ?? []), name]);
}

async function dropAll(): Promise<void> {
  for (const [server, names] of toDrop) {
    const client = new pg.Client({ connectionString: server });
    try {
      await client.connect();
      for (const name of names) await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    } catch {
      // The server of a fault test may be gone already; its files go with it.
    } finally {
      await client.end().catch(() => undefined);
    }
  }
  toDrop.clear();
}

interface ClusterModule {
  startCluster(options?: { port?: number }): Promise<Cluster>;
}

/** A cluster of the test's own (it may be stopped and restarted), removed when the file ends. */
export async function dedicatedCluster(): Promise<Cluster> {
  const root = new URL('../../..', import.meta.url).pathname;
  const module = (await import(
    pathToFileURL(join(root, 'scripts', 'postgres.mjs')).href
  )) as ClusterModule;
  const cluster = await module.startCluster();
  after(() => cluster.stop());
  return cluster;
}
