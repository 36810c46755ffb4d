import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { Client } from '../../client/client.js';
import { P2PError } from '../../errors.js';
import { loadTableKey } from '../../keys/key-file.js';
import { collect, parseDuration, parseIntOption } from '../parse.js';

interface PutOptions {
  node: string[];
  table: string;
  to: string;
  pow?: string;
  expires?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export function registerPutCommand(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  program
    .command('put')
    .description(
      'seal TEXT (or stdin with -) to a recipient, sign it with a table key and write it to nodes; prints the entry id',
    )
    .argument('[text]', 'the text to store, or - to read stdin')
    .requiredOption('--node <url>', 'node URL (repeatable)', collect)
    .requiredOption('--table <file>', 'table secret key file')
    .requiredOption('--to <pubkey>', 'recipient: identity text (p2pid1…) or recipient key')
    .option('--pow <bits>', 'proof-of-work bits (default: the highest minimum of the nodes)')
    .option('--expires <duration>', 'expire after this long, e.g. 10m, 12h, 7d')
    .action(async (text: string | undefined, options: PutOptions) => {
      if (text === undefined)
        throw new P2PError('bad_argument', 'give the TEXT to store, or - to read it from stdin');
      const data = text === '-' ? await readStdin() : Buffer.from(text, 'utf8');
      const table = await loadTableKey(options.table);
      const client = new Client({ nodes: options.node });
      const powBits =
        options.pow === undefined
          ? await client.requiredPowBits()
          : parseIntOption('--pow', options.pow, 0, 40);
      const createdAt = Date.now();
      const expiresAt = options.expires
        ? createdAt + parseDuration('--expires', options.expires)
        : undefined;
      const tty = process.stderr.isTTY === true;
      const bar = tty
        ? new SingleBar({
            format: `proof of work (${powBits} bits) [{bar}] {percentage}% of expected | {hashes} hashes | {eta_formatted}`,
            stream: process.stderr,
            hideCursor: true,
            clearOnComplete: true,
          })
        : undefined;
      const expected = 2 ** powBits;
      bar?.start(expected, 0, { hashes: '0' });
      const started = Date.now();
      let hashes = 0;
      let report;
      try {
        report = await client.put({
          table,
          to: options.to,
          data,
          powBits,
          createdAt,
          ...(expiresAt !== undefined ? { expiresAt } : {}),
          onProgress: (p) => {
            hashes = p.hashes;
            bar?.update(Math.min(p.hashes, expected * 0.99), { hashes: formatCount(p.hashes) });
          },
        });
      } finally {
        bar?.stop();
      }
      // A failure is one line on stderr (carrying every node's reason), so check it first.
      if (report.accepted === 0) {
        const reasons = [...new Set(report.nodes.map((n) => n.message ?? n.code ?? n.status))].join(
          '; ',
        );
        throw new P2PError('all_nodes_failed', `no node accepted the entry: ${reasons}`);
      }
      err(
        `proof of work: ${report.powBits} bits after ${formatCount(hashes)} hashes in ${((Date.now() - started) / 1000).toFixed(2)} s`,
      );
      for (const node of report.nodes) {
        err(
          `${node.node}: ${node.status}${node.code ? ` (${node.code}: ${node.message ?? ''})` : ''}`,
        );
      }
      out(report.id);
    });
}
