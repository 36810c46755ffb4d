/**
 * What the operator tools share: the node's data directory and config file as options, the
 * store opened (and, for the tools that change it, locked against a running node), and a
 * progress bar counting entries on a terminal.
 */
import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import {
  mergeConfig,
  parseNodeConfig,
  readConfigFile,
  type NodeConfig,
} from '../../node/config.js';
import { lockDataDir } from '../../node/data-lock.js';
import { openToolStore } from '../../node/tools/open-store.js';
import { isPostgresUrl } from '../../store/postgres/url.js';
import type { Store } from '../../store/store.js';
import { readUserFile } from '../inputs.js';

export interface StoreAccessOptions {
  data?: string;
  config?: string;
  store?: string;
}

/** Adds --data and --config, worded as `p2pcloud node` words them. */
export function storeOptions(command: Command): Command {
  const defaults = parseNodeConfig({});
  return command
    .option(
      '--data <dir>',
      `the node's data directory (default: data_dir of --config, else ${defaults.data_dir})`,
    )
    .option('--config <file>', "the node's JSON config file (for data_dir and its settings)")
    .option(
      '--store <spec>',
      'the store: sqlite (the file in the data directory, the default) or a postgres:// URL',
    );
}

/** The node's settings as the tool sees them: defaults, then --config, then `flags`. */
export async function toolConfig(
  options: StoreAccessOptions,
  flags: Record<string, unknown> = {},
): Promise<NodeConfig> {
  // Read once here first so an unreadable file gets the wording every other file gets.
  if (options.config) await readUserFile('--config', options.config);
  const file = options.config ? await readConfigFile(options.config) : {};
  return parseNodeConfig(
    mergeConfig(file, { ...flags, data_dir: options.data, store: options.store }),
  );
}

/**
 * Runs `work` on the store of `config`. With `lockAs`, the data directory is locked first, as a
 * running node locks it: a tool that changes the store never runs beside a node on it.
 */
export async function withStore<T>(
  config: NodeConfig,
  access: { mustExist: boolean; lockAs?: string },
  work: (store: Store) => Promise<T>,
): Promise<T> {
  // A PostgreSQL store is shared by design (docs/storage-postgres.md): no directory to lock.
  const shared = isPostgresUrl(config.store ?? '');
  const lock =
    access.lockAs && !shared
      ? lockDataDir(config.data_dir, access.lockAs, 'bad_argument')
      : undefined;
  try {
    // Without the lock a node may be running on the store: then the tool only reads.
    const store = await openToolStore(config, {
      mustExist: access.mustExist,
      readOnly: access.lockAs === undefined,
    });
    try {
      return await work(store);
    } finally {
      await store.close();
    }
  } finally {
    lock?.release();
  }
}

export interface CountBar {
  update(done: number): void;
  stop(): void;
}

/** A bar counting entries on stderr when it is a terminal; nothing otherwise. */
export function countBar(label: string, total: number): CountBar {
  if (process.stderr.isTTY !== true) return { update: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value} of {total} entries | {eta_formatted}`,
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
    fps: 5,
  });
  bar.start(Math.max(1, total), 0);
  return {
    update: (done) => bar.update(Math.min(done, Math.max(1, total))),
    stop: () => bar.stop(),
  };
}
