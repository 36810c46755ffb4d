import type { Command } from 'commander';
import { Client } from '../../client/client.js';
import { LEDGER_HELP, PAYER_HELP, payersFor, type PayerFlags } from './billing.js';
import { P2PError } from '../../errors.js';
import { identityText, recipientText, tableText } from '../../keys/keys.js';
import { PROXY_HELP, loadIdentityFile, nodeUrls, proxyFor, tableKeyTextOrFile } from '../inputs.js';
import { nodeFailure, nodeFailures } from '../node-failures.js';
import { collect, parseIntOption, parseSince } from '../parse.js';

interface GetOptions {
  node: string[];
  key: string;
  table?: string[];
  since?: string;
  until?: string;
  limit?: string;
  order?: string;
  json?: boolean;
  proxy?: string;
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** What a terminal shows of an entry that is not text. */
export function binaryPlaceholder(plaintext: Buffer): string {
  return `[binary, ${plaintext.length} bytes: not shown on a terminal; --json gives it in base64, files get --spread restores a spread file]`;
}

export function registerGetCommand(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  program
    .command('get')
    .description('read entries sealed to your identity from nodes, verify and decrypt them')
    .requiredOption('--node <url>', 'node URL (repeatable)', collect)
    .requiredOption('--key <file>', 'identity secret key file')
    .option(
      '--table <table>',
      'only this table: its public key (p2ptable1…) or key file (repeatable)',
      collect,
    )
    .option('--since <time>', 'created at or after: ms, ISO date, or 15m/2h/7d ago')
    .option('--until <time>', 'created before: ms, ISO date, or 15m/2h/7d ago')
    .option('--limit <n>', 'at most this many entries (default 100)')
    .option('--order <order>', 'newest (default) or oldest first')
    .option('--json', 'one JSON object per line')
    .option('--payer <file>', PAYER_HELP)
    .option('--ledger <file>', LEDGER_HELP)
    .option('--proxy <url>', PROXY_HELP)
    .action(async (options: GetOptions & PayerFlags) => {
      const nodes = nodeUrls('--node', options.node);
      const identity = await loadIdentityFile('--key', options.key);
      const tables = options.table
        ? await Promise.all(options.table.map((t) => tableKeyTextOrFile('--table', t)))
        : undefined;
      const proxy = proxyFor(options.proxy, '--node', nodes);
      const payers = await payersFor(nodes, options);
      const client = new Client({ nodes, ...(proxy ? { proxy } : {}), ...payers });
      const order =
        options.order === undefined || options.order === 'newest' || options.order === 'desc'
          ? 'desc'
          : options.order === 'oldest' || options.order === 'asc'
            ? 'asc'
            : undefined;
      if (!order) throw new P2PError('bad_argument', '--order: expected newest or oldest');
      const result = await client.read(identity, {
        ...(tables ? { tables } : {}),
        ...(options.since ? { since: parseSince('--since', options.since) } : {}),
        ...(options.until ? { until: parseSince('--until', options.until) } : {}),
        limit:
          options.limit === undefined ? 100 : parseIntOption('--limit', options.limit, 1, 100_000),
        order,
      });
      // A failure is one line on stderr, so when every node failed their reasons go in it.
      if (result.nodes.every((n) => !n.ok)) {
        const reasons = result.nodes.map((n) =>
          nodeFailure(n.node, n.error?.message, n.error?.code),
        );
        throw new P2PError('all_nodes_failed', `no node answered: ${nodeFailures(reasons)}`);
      }
      for (const node of result.nodes) {
        if (!node.ok) err(nodeFailure(node.node, node.error?.message, node.error?.code));
        if (node.invalid > 0)
          err(`${node.node}: ignored ${node.invalid} entries that failed verification`);
      }
      const terminal = process.stdout.isTTY === true;
      for (const entry of result.entries) {
        if (options.json) {
          const utf8 = isUtf8(entry.plaintext);
          out(
            JSON.stringify({
              id: entry.id,
              table: tableText(entry.table),
              recipient: recipientText(entry.recipient),
              created_at: entry.createdAt,
              expires_at: entry.expiresAt === 0 ? null : entry.expiresAt,
              pow_bits: entry.powBits,
              text: utf8 ? entry.text : null,
              ...(utf8 ? {} : { data_base64: entry.plaintext.toString('base64') }),
            }),
          );
        } else {
          // Bytes that are not text (a spread file's shards, say) would fill a terminal with
          // garbage and control sequences: a terminal is told what is there instead.
          const shown =
            terminal && !isUtf8(entry.plaintext) ? binaryPlaceholder(entry.plaintext) : entry.text;
          out(`${new Date(entry.createdAt).toISOString()} ${entry.id.slice(0, 16)} ${shown}`);
        }
      }
      // Silence on a terminal reads as a hang or a bug; a pipe gets nothing, as grep gives.
      if (result.entries.length === 0 && process.stdout.isTTY === true) {
        const where = nodes.length === 1 ? nodes[0]! : `${nodes.length} nodes`;
        err(`no entries match (identity ${identityText(identity).slice(0, 16)}…, ${where})`);
      }
    });
}
