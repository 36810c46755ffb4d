/**
 * The ticket wallet: a versioned JSON file (docs/tickets.md §5.2), written whole to a temporary
 * file that then replaces it, so a crash leaves the old wallet or the new one, never half of
 * one. Tickets are bearer money: the file is written with mode 0600.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { P2PError } from '../../errors.js';
import { replacePrivateFile } from '../private-file.js';
import { describeIssues } from '../../zod-issues.js';

export const WALLET_VERSION = 1;

const ticketSchema = z
  .object({
    ticket: z.string().min(1).max(1000),
    issuer: z.string().min(1),
    key_id: z.string().regex(/^[0-9a-f]{64}$/),
    kind: z.string(),
    value: z.number().int().min(1),
    not_after: z.number().int(),
    bought_at: z.number().int(),
  })
  .strict();

const walletSchema = z
  .object({ version: z.literal(WALLET_VERSION), tickets: z.array(ticketSchema) })
  .strict();

export type WalletTicket = z.output<typeof ticketSchema>;
export type WalletFile = z.output<typeof walletSchema>;

export async function readWallet(path: string): Promise<WalletFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { version: WALLET_VERSION, tickets: [] };
    throw new P2PError('bad_argument', `cannot read wallet ${path}: ${(error as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new P2PError('bad_argument', `wallet ${path} is not valid JSON`);
  }
  const parsed = walletSchema.safeParse(value);
  if (!parsed.success) {
    throw new P2PError(
      'bad_argument',
      `wallet ${path} is not a version ${WALLET_VERSION} wallet: ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}

export async function writeWallet(path: string, wallet: WalletFile): Promise<void> {
  await replacePrivateFile(path, `${JSON.stringify(wallet, null, 2)}\n`);
}

/**
 * Picks unexpired tickets of one issuer that together cover `bytes` at a node that credits at
 * most `perTicket` bytes each; undefined when the wallet holds too few.
 */
export function pickTickets(
  wallet: WalletFile,
  bytes: number,
  nowSeconds: number,
  options: { issuer?: string; perTicket?: number } = {},
): WalletTicket[] | undefined {
  const usable = wallet.tickets
    .filter(
      (t) =>
        t.not_after > nowSeconds && (options.issuer === undefined || t.issuer === options.issuer),
    )
    .sort((a, b) => a.not_after - b.not_after);
  const issuer = options.issuer ?? usable[0]?.issuer;
  const picked: WalletTicket[] = [];
  let covered = 0;
  for (const ticket of usable) {
    if (covered >= bytes && picked.length > 0) break;
    if (ticket.issuer !== issuer) continue;
    picked.push(ticket);
    covered += Math.min(ticket.value, options.perTicket ?? Infinity);
  }
  return covered >= bytes && picked.length > 0 ? picked : undefined;
}

export function withoutTickets(wallet: WalletFile, gone: readonly WalletTicket[]): WalletFile {
  const drop = new Set(gone.map((t) => t.ticket));
  return { version: WALLET_VERSION, tickets: wallet.tickets.filter((t) => !drop.has(t.ticket)) };
}
