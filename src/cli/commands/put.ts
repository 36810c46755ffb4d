import type { Command } from 'commander';
import { SingleBar } from 'cli-progress';
import { Client } from '../../client/client.js';
import { LEDGER_HELP, PAYER_HELP, payersFor, type PayerFlags } from './billing.js';
import { P2PError } from '../../errors.js';
import { entryBytesFor } from '../../entry/create.js';
import {
  powRuleFromHealth,
  requiredPowBitsOfAll,
  type PowRule,
  type PowSubject,
} from '../../entry/pow-rule.js';
import { PROXY_HELP, loadTableKeyFile, nodeUrls, proxyFor, recipientKey } from '../inputs.js';
import { nodeFailure, nodeFailures } from '../node-failures.js';
import { collect, parseDuration, parseIntOption } from '../parse.js';
import { readWallet, writeWallet } from '../../client/tickets/wallet.js';
import {
  planTickets,
  settleTickets,
  ticketTexts,
  type TicketPlan,
} from '../../client/tickets/spend.js';

interface PutOptions {
  node: string[];
  table: string;
  to: string;
  pow?: string;
  expires?: string;
  /** False with --no-pad. */
  pad: boolean;
  proxy?: string;
  tickets?: string;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * The bytes to store. Text from stdin loses one trailing newline (the one `echo` and editors
 * add), so `echo hi | p2pcloud put -` stores what `p2pcloud put hi` stores. An empty entry is
 * refused: it is almost always a mistake (an unset shell variable), and it would cost proof of work.
 */
async function payload(text: string | undefined): Promise<Buffer> {
  if (text === undefined)
    throw new P2PError('bad_argument', 'give the TEXT to store, or - to read it from stdin');
  if (text !== '-') {
    if (text.length === 0)
      throw new P2PError('bad_argument', 'the TEXT is empty: nothing to store');
    return Buffer.from(text, 'utf8');
  }
  let data = await readStdin();
  if (data.at(-1) === 0x0a) data = data.subarray(0, data.at(-2) === 0x0d ? -2 : -1);
  if (data.length === 0) throw new P2PError('bad_argument', 'stdin is empty: nothing to store');
  return data;
}

/**
 * The proof of work the nodes ask of this entry: the most that the rules of those that answer
 * require. When none answers, the error says why for each.
 */
async function requiredPowBits(client: Client, subject: PowSubject): Promise<number> {
  const answers = await Promise.allSettled(client.nodes.map((node) => client.health(node)));
  const rules: PowRule[] = [];
  const failures: string[] = [];
  for (const [i, answer] of answers.entries()) {
    if (answer.status === 'rejected') {
      failures.push(nodeFailure(client.nodes[i]!, (answer.reason as Error).message));
      continue;
    }
    const rule = powRuleFromHealth(answer.value.policy);
    if (rule) {
      rules.push(rule);
    } else {
      failures.push(`${client.nodes[i]!}: /health does not give a proof-of-work minimum`);
    }
  }
  if (rules.length === 0)
    throw new P2PError('all_nodes_failed', `no node answered: ${nodeFailures(failures)}`);
  return requiredPowBitsOfAll(rules, subject);
}

function formatCount(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

/** What paid for a write with tickets: "paid with 1 ticket at each of 2 nodes". */
export function paidWith(plan: TicketPlan): string {
  const counts = Object.values(plan).map((tickets) => tickets.length);
  const tickets = (n: number): string => `${n} ticket${n === 1 ? '' : 's'}`;
  if (counts.every((c) => c === counts[0])) {
    const nodes = counts.length === 1 ? 'its node' : `each of ${counts.length} nodes`;
    return `paid with ${tickets(counts[0]!)} at ${nodes}`;
  }
  return `paid with tickets: ${Object.entries(plan)
    .map(([node, t]) => `${tickets(t.length)} at ${node}`)
    .join(', ')}`;
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
    .argument('[text]', 'the text to store, or - to read stdin (one trailing newline is dropped)')
    .requiredOption('--node <url>', 'node URL (repeatable)', collect)
    .requiredOption('--table <file>', 'table secret key file')
    .requiredOption('--to <pubkey>', 'recipient: identity text (p2pid1…) or recipient key')
    .option('--pow <bits>', 'proof-of-work bits (default: the most the nodes ask of this entry)')
    .option('--expires <duration>', 'expire after this long, e.g. 10m, 12h, 7d')
    .option('--no-pad', 'store the exact size instead of padding the entry to a size bucket')
    .option('--payer <file>', PAYER_HELP)
    .option('--ledger <file>', LEDGER_HELP)
    .option('--proxy <url>', PROXY_HELP)
    .option(
      '--tickets <wallet>',
      'pay with prepaid tickets from this wallet instead of proof of work (docs/tickets.md)',
    )
    .action(async (text: string | undefined, options: PutOptions & PayerFlags) => {
      const nodes = nodeUrls('--node', options.node);
      const table = await loadTableKeyFile('--table', options.table);
      const to = recipientKey('--to', options.to);
      const expires =
        options.expires === undefined ? undefined : parseDuration('--expires', options.expires);
      const pow =
        options.pow === undefined ? undefined : parseIntOption('--pow', options.pow, 0, 40);
      const data = await payload(text);
      const proxy = proxyFor(options.proxy, '--node', nodes);
      const payers = await payersFor(nodes, options);
      const client = new Client({ nodes, ...(proxy ? { proxy } : {}), ...payers });
      const size = entryBytesFor(data.length, options.pad);
      const wallet = options.tickets === undefined ? undefined : await readWallet(options.tickets);
      const plan = wallet
        ? planTickets(wallet, client.nodes, size, Math.floor(Date.now() / 1000))
        : undefined;
      // The entry's size follows from the text's and the padding: the work depends on it.
      const powBits =
        pow ??
        (plan ? 0 : undefined) ??
        (await requiredPowBits(client, {
          table: table.signing.publicKey,
          size,
        }));
      const createdAt = Date.now();
      const expiresAt = expires === undefined ? undefined : createdAt + expires;
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
          to,
          data,
          powBits,
          pad: options.pad,
          createdAt,
          ...(expiresAt !== undefined ? { expiresAt } : {}),
          ...(plan ? { tickets: ticketTexts(plan) } : {}),
          onProgress: (p) => {
            hashes = p.hashes;
            bar?.update(Math.min(p.hashes, expected * 0.99), { hashes: formatCount(p.hashes) });
          },
        });
      } finally {
        bar?.stop();
      }
      if (wallet && plan) {
        await writeWallet(options.tickets!, settleTickets(wallet, plan, report.nodes));
      }
      // A failure is one line on stderr (carrying every node's reason), so check it first.
      if (report.accepted === 0) {
        const reasons = report.nodes.map((n) =>
          n.status === 'rejected'
            ? `${n.node}: rejected (${n.code ?? 'no code'}: ${n.message ?? ''})`
            : nodeFailure(n.node, n.message, n.code),
        );
        throw new P2PError(
          'all_nodes_failed',
          `no node accepted the entry: ${nodeFailures(reasons)}`,
        );
      }
      if (plan) err(paidWith(plan));
      // A write paid with tickets solved nothing: the zero bits its one hash happens to have
      // are no proof of work, so none is reported unless --pow asked for some.
      if (!plan || powBits > 0) {
        err(
          `proof of work: ${report.powBits} bits after ${formatCount(hashes)} hashes in ${((Date.now() - started) / 1000).toFixed(2)} s`,
        );
      }
      for (const node of report.nodes) {
        err(
          node.status === 'error'
            ? nodeFailure(node.node, node.message, node.code)
            : `${node.node}: ${node.status}${node.code ? ` (${node.code}: ${node.message ?? ''})` : ''}`,
        );
      }
      out(report.id);
    });
}
