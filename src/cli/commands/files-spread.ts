/**
 * `p2pcloud files put|get --spread` and `files repair`: a file spread over n nodes by erasure
 * coding (docs/spread.md), without a gateway: the identity and table key files are used here.
 * put prints the manifest's id, the one thing needed to get the file back; get writes beside
 * its target and renames into place once the whole file's SHA-256 checks.
 */
import type { Command } from 'commander';
import { createReadStream } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';
import { P2PError } from '../../errors.js';
import { spreadFile } from '../../client/spread/spread.js';
import { isSupportedCode, MAX_DATA_SHARDS, MAX_PARITY_SHARDS } from '../../files/spread/erasure.js';
import { restoreFile } from '../../client/spread/restore.js';
import { repairFile } from '../../client/spread/repair.js';
import { loadIdentityFile, loadTableKeyFile, nodeUrls } from '../inputs.js';
import { collect } from '../parse.js';
import { formatBytes, progressOn } from '../files/progress.js';
import { TicketPurse } from '../../client/tickets/purse.js';
import { readWallet, writeWallet } from '../../client/tickets/wallet.js';

const TICKETS_HELP =
  'pay every shard, page and manifest put with prepaid tickets from this wallet instead of proof of work; fails before writing when it holds too few (docs/spread.md §5.4)';

/**
 * Runs `operation` paid from the wallet at `path` (none: with proof of work), then writes the
 * wallet without the tickets nodes spent, whether it succeeded or not. Returns what it did and
 * how many tickets it spent.
 */
async function paidFrom<T>(
  path: string | undefined,
  operation: (payer: TicketPurse | undefined) => Promise<T>,
): Promise<{ result: T; spent: number | undefined }> {
  if (path === undefined) return { result: await operation(undefined), spent: undefined };
  const purse = new TicketPurse(await readWallet(path), Math.floor(Date.now() / 1000));
  try {
    return { result: await operation(purse), spent: purse.spentCount };
  } finally {
    if (purse.spentCount > 0) await writeWallet(path, purse.remaining());
  }
}

const spentLine = (spent: number): string =>
  `paid with ${spent} ticket${spent === 1 ? '' : 's'}, no proof of work`;

export interface SpreadFlags {
  spread?: string;
  node?: string[];
  identity?: string;
  table?: string;
  out?: string;
  json?: boolean;
  tickets?: string;
}

/** Adds the options of the spread mode to `files put` or `files get`. */
export function spreadOptions(command: Command, put: boolean): Command {
  command
    .option(
      '--spread <k/n>',
      put
        ? 'spread the file over the --node URLs by erasure coding: any k of the n restore it'
        : 'the id of a spread file’s manifest (printed by files put --spread)',
    )
    .option(
      '--node <url>',
      put
        ? 'with --spread: a node that keeps one shard of every stripe (n of them, in order)'
        : 'with --spread: a node that holds the manifest (repeatable)',
      collect,
    )
    .option('--identity <file>', 'with --spread: the owner’s identity key file');
  if (put) {
    command
      .option('--table <file>', 'with --spread: the owner’s table key file')
      .option('--tickets <wallet>', `with --spread: ${TICKETS_HELP}`);
  } else command.option('--out <file>', 'with --spread: where to write the file');
  return command;
}

/** "k/n" as two integers. */
export function parseSpread(text: string): { k: number; n: number } {
  const match = /^(\d{1,3})\/(\d{1,3})$/.exec(text);
  if (!match)
    throw new P2PError(
      'bad_argument',
      `--spread: expected k/n such as 3/5, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  return { k: Number(match[1]), n: Number(match[2]) };
}

function required<T>(value: T | undefined, option: string, why: string): T {
  if (value === undefined) throw new P2PError('bad_argument', `${option} is required ${why}`);
  return value;
}

function manifestRef(text: string): string {
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new P2PError(
      'bad_argument',
      `--spread: expected a manifest id (64 lowercase hex, printed by files put --spread), got ${JSON.stringify(text.slice(0, 80))}`,
    );
  }
  return text;
}

export async function spreadPut(
  local: string,
  flags: SpreadFlags,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<void> {
  const { k, n } = parseSpread(flags.spread!);
  if (!isSupportedCode(k, n)) {
    throw new P2PError(
      'bad_argument',
      `--spread ${k}/${n}: k is 1 to ${MAX_DATA_SHARDS} and n − k is 1 to ${MAX_PARITY_SHARDS}`,
    );
  }
  const nodes = nodeUrls('--node', flags.node ?? []);
  if (nodes.length !== n) {
    throw new P2PError(
      'bad_argument',
      `--spread ${k}/${n} needs ${n} --node URLs, one per provider; ${nodes.length} given`,
    );
  }
  const identity = await loadIdentityFile(
    '--identity',
    required(flags.identity, '--identity', 'with --spread'),
  );
  const table = await loadTableKeyFile(
    '--table',
    required(flags.table, '--table', 'with --spread'),
  );
  let size: number;
  try {
    const info = await stat(local);
    if (!info.isFile())
      throw new P2PError('bad_argument', `${local}: not a file (--spread takes one file)`);
    size = info.size;
  } catch (error) {
    if (error instanceof P2PError) throw error;
    throw new P2PError('bad_argument', `${local}: no such file`);
  }
  const { result, spent } = await paidFrom(flags.tickets, async (payer) => {
    const bar = progressOn().start(basename(local), size);
    try {
      let shown = 0;
      return await spreadFile({
        source: createReadStream(local, { highWaterMark: 1 << 20 }),
        size,
        k,
        providers: nodes,
        identity,
        table,
        ...(payer ? { payer } : {}),
        onProgress: (p) => {
          bar.add(p.bytes - shown);
          shown = p.bytes;
        },
      });
    } finally {
      bar.stop();
    }
  });
  const { ref, manifest } = result;
  if (spent !== undefined && !flags.json) err(spentLine(spent));
  if (flags.json) {
    out(
      JSON.stringify({
        manifest: ref,
        size: manifest.size,
        sha256: manifest.sha256,
        k: manifest.k,
        n: manifest.n,
        stripes: manifest.stripes,
        providers: manifest.providers.map((p) => p.url),
        ...(spent !== undefined ? { tickets_spent: spent } : {}),
      }),
    );
  } else {
    out(ref);
  }
}

export async function spreadGet(
  flags: SpreadFlags,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<void> {
  const ref = manifestRef(flags.spread!);
  const target = required(flags.out, '--out', 'with --spread');
  const nodes = nodeUrls('--node', flags.node ?? []);
  if (nodes.length === 0) {
    throw new P2PError(
      'bad_argument',
      '--node is required with --spread: a node that holds the manifest',
    );
  }
  const identity = await loadIdentityFile(
    '--identity',
    required(flags.identity, '--identity', 'with --spread'),
  );
  const partial = join(dirname(target), `.${basename(target)}.p2pcloud-part`);
  const file = await open(partial, 'w', 0o600).catch((error: NodeJS.ErrnoException) => {
    throw new P2PError('bad_argument', `--out: cannot write ${target}: ${error.code}`);
  });
  const progress = progressOn();
  let bar: ReturnType<typeof progress.start> | undefined;
  let shownBytes = 0;
  let result;
  try {
    result = await restoreFile({
      ref,
      nodes,
      identity,
      write: async (bytes) => {
        await file.write(bytes);
      },
      onProgress: (p) => {
        bar ??= progress.start(basename(target), p.size);
        bar.add(p.bytes - shownBytes);
        shownBytes = p.bytes;
      },
    });
    await file.close();
    await rename(partial, target);
  } catch (error) {
    await file.close().catch(() => undefined);
    await rm(partial, { force: true });
    throw error;
  } finally {
    bar?.stop();
  }
  const { manifest, lost } = result;
  if (flags.json) {
    out(
      JSON.stringify({
        manifest: ref,
        out: target,
        size: manifest.size,
        sha256: manifest.sha256,
        lost: lost.map((l) => ({ url: l.url, reason: l.reason })),
      }),
    );
    return;
  }
  out(`got ${target} (${formatBytes(manifest.size)}), SHA-256 checked`);
  for (const l of lost) err(`note: provider ${l.url} failed and was not used: ${l.reason}`);
}

/**
 * URLs from values that may each hold several, separated by white space or commas (what
 * `market pick` prints, given as one shell word); each URL once, first place kept.
 */
export function urlList(values: readonly string[]): string[] {
  const urls = values.flatMap((v) => v.split(/[\s,]+/)).filter((u) => u !== '');
  return urls.filter((url, i) => urls.indexOf(url) === i);
}

export function registerSpreadRepair(
  files: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  files
    .command('repair')
    .description(
      'check every provider of a spread file and move the shards of those gone or damaged to new nodes; prints the new manifest id',
    )
    .requiredOption('--spread <manifest>', 'the id of the spread file’s manifest')
    .requiredOption(
      '--node <urls>',
      'nodes to look for the manifest on (repeatable; a value may hold several URLs, as --new-node)',
      collect,
    )
    .option(
      '--new-node <urls>',
      'nodes that may take a failed provider’s place, in order of preference (repeatable; one value may hold several URLs separated by spaces, commas or newlines, such as the output of market pick); providers of the file are skipped',
      collect,
    )
    .option(
      '--drop <url>',
      'a provider known to be gone: replaced without being asked (repeatable)',
      collect,
    )
    .requiredOption('--identity <file>', 'the owner’s identity key file')
    .requiredOption('--table <file>', 'the owner’s table key file')
    .option('--tickets <wallet>', TICKETS_HELP)
    .option('--json', 'print the outcome as JSON')
    .action(
      async (flags: {
        spread: string;
        node: string[];
        newNode?: string[];
        drop?: string[];
        identity: string;
        table: string;
        tickets?: string;
        json?: boolean;
      }) => {
        const ref = manifestRef(flags.spread);
        const nodes = nodeUrls('--node', urlList(flags.node));
        const spares = nodeUrls('--new-node', urlList(flags.newNode ?? []));
        const drop = nodeUrls('--drop', flags.drop ?? []);
        const identity = await loadIdentityFile('--identity', flags.identity);
        const table = await loadTableKeyFile('--table', flags.table);
        const progress = progressOn();
        const { result, spent } = await paidFrom(flags.tickets, async (payer) => {
          let bar: ReturnType<typeof progress.start> | undefined;
          let rebuilt = 0;
          try {
            return await repairFile({
              ref,
              nodes,
              spares,
              drop,
              identity,
              table,
              ...(payer ? { payer } : {}),
              onProgress: (p) => {
                if (p.phase !== 'rebuild') return;
                bar ??= progress.start('rebuilding shards', p.of);
                bar.add(p.done - rebuilt);
                rebuilt = p.done;
              },
            });
          } finally {
            bar?.stop();
          }
        });
        if (flags.json) {
          out(
            JSON.stringify({
              manifest: result.ref,
              revision: result.manifest.revision,
              replaced: result.replaced,
              ...(spent !== undefined ? { tickets_spent: spent } : {}),
            }),
          );
          return;
        }
        out(result.ref);
        if (spent !== undefined && result.replaced.length > 0) err(spentLine(spent));
        if (result.replaced.length === 0) {
          err(`nothing to repair: all ${result.manifest.n} providers hold good shards`);
        }
        for (const r of result.replaced) err(`replaced ${r.from} by ${r.to}: ${r.reason}`);
      },
    );
}
