/**
 * `p2pcloud store migrate`: copies a node's SQLite store into PostgreSQL, with a progress bar
 * on a terminal (or progress lines with --json) and a check of every table at the end.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { P2PError } from '../../errors.js';
import { openPostgresStore } from '../../store/postgres/postgres-store.js';
import { copyStore, verifyCopy } from '../../store/postgres/store-copy.js';
import { isPostgresUrl, redactUrl } from '../../store/postgres/url.js';
import { openSqliteStore } from '../../store/sqlite/sqlite-store.js';
import type { Store } from '../../store/store.js';

interface MigrateOptions {
  from: string;
  to: string;
  json?: boolean;
}

/** The SQLite file of `sqlite:DIR` (a node's data directory); it must exist. */
function sqliteSource(spec: string): string {
  const match = /^sqlite:(.+)$/.exec(spec);
  if (!match)
    throw new P2PError('bad_config', "--from must be sqlite:DIR (a node's data directory)");
  const path = join(resolve(match[1]!), 'entries.sqlite');
  if (!existsSync(path)) {
    throw new P2PError('bad_config', `--from: no SQLite store at ${path}`);
  }
  return path;
}

function progressBar(json: boolean, out: (line: string) => void) {
  if (json) {
    return {
      update: (copied: number, total: number) =>
        out(JSON.stringify({ event: 'progress', copied, total })),
      stop: () => undefined,
    };
  }
  if (process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: 'copying entries [{bar}] {percentage}% | {value} of {total} | {eta_formatted}',
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    fps: 5,
  });
  let started = false;
  return {
    update: (copied: number, total: number) => {
      if (!started) {
        bar.start(total, copied);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(copied);
      }
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

export function registerStoreCommands(program: Command, out: (line: string) => void): void {
  const store = program.command('store').description("operate on a node's store");
  store
    .command('migrate')
    .description(
      "copy a node's SQLite store into PostgreSQL (entries and peers), then check that every table has the same count and id sum on both sides; safe to run again",
    )
    .requiredOption('--from <sqlite:DIR>', "the node's data directory, as sqlite:DIR")
    .requiredOption('--to <url>', 'postgres://USER[:PASSWORD]@HOST:PORT/DATABASE')
    .option('--json', 'progress and the result as JSON lines')
    .action(async (options: MigrateOptions) => {
      const path = sqliteSource(options.from);
      if (!isPostgresUrl(options.to)) {
        throw new P2PError('bad_config', '--to must be a postgres://USER@HOST:PORT/DATABASE URL');
      }
      const where = redactUrl(options.to);
      const source = openSqliteStore({ path });
      let target: Store | undefined;
      const bar = progressBar(options.json === true, out);
      try {
        target = await openPostgresStore({ url: options.to, buckets: source.buckets });
        const copy = await copyStore(source, target, ({ copied, total }) =>
          bar.update(copied, total),
        );
        bar.stop();
        const check = await verifyCopy(source, target);
        const result = {
          event: 'done',
          from: path,
          to: where,
          ...copy,
          verified: check.mismatches.length === 0,
          tables: check.tables,
          entries: check.entries,
          mismatches: check.mismatches,
        };
        if (options.json) out(JSON.stringify(result));
        if (check.mismatches.length > 0) {
          const first = check.mismatches[0]!;
          throw new P2PError(
            'internal',
            `verification failed: ${check.mismatches.length} table(s) differ; table ${first.table} has ${first.source.count} entries in SQLite and ${first.target.count} in PostgreSQL`,
          );
        }
        if (!options.json) {
          out(
            `copied ${copy.copied} entries (${copy.stored} new, ${copy.duplicate} already there${copy.collision > 0 ? `, ${copy.collision} refused as short-id collisions` : ''}) and ${copy.peers} peers from ${path} to ${where}; verified: ${check.entries} entries in ${check.tables} tables, counts and id sums equal`,
          );
        }
      } finally {
        bar.stop();
        await target?.close();
        await source.close();
      }
    });
}
