import type { Command } from 'commander';
import { buyTickets } from '../../client/tickets/buy.js';
import { readWallet, writeWallet, WALLET_VERSION } from '../../client/tickets/wallet.js';
import { nodeUrls } from '../inputs.js';
import { parseIntOption } from '../parse.js';

const DEFAULT_WALLET = './tickets.json';

export function registerTicketsCommands(program: Command, out: (line: string) => void): void {
  const tickets = program
    .command('tickets')
    .description('buy prepaid tickets from an issuer and list the wallet (docs/tickets.md)');

  tickets
    .command('buy')
    .description(
      'buy N tickets with a voucher; they are blinded, so the issuer cannot tell them apart when spent',
    )
    .requiredOption('--issuer <url>', 'issuer URL')
    .requiredOption('--voucher <token>', 'voucher the issuer sold (p2pcloud issuer voucher)')
    .option('--count <n>', 'how many tickets (default 10)', '10')
    .option('--wallet <file>', `wallet file (default ${DEFAULT_WALLET})`, DEFAULT_WALLET)
    .action(async (options: { issuer: string; voucher: string; count: string; wallet: string }) => {
      const [issuer] = nodeUrls('--issuer', [options.issuer]);
      const count = parseIntOption('--count', options.count, 1, 10_000);
      const wallet = await readWallet(options.wallet);
      const bought = await buyTickets({ issuer: issuer!, voucher: options.voucher, count });
      await writeWallet(options.wallet, {
        version: WALLET_VERSION,
        tickets: [...wallet.tickets, ...bought],
      });
      const first = bought[0]!;
      out(
        `bought ${bought.length} ticket(s) of ${first.value} bytes from ${issuer!}, valid until ${new Date(first.not_after * 1000).toISOString()}; the wallet holds ${wallet.tickets.length + bought.length}`,
      );
    });

  tickets
    .command('list')
    .description('list the wallet: tickets per issuer and key, their value and expiry')
    .option('--wallet <file>', `wallet file (default ${DEFAULT_WALLET})`, DEFAULT_WALLET)
    .option('--json', 'print one JSON object per group instead of a table')
    .action(async (options: { wallet: string; json?: boolean }) => {
      const wallet = await readWallet(options.wallet);
      const groups = new Map<
        string,
        { issuer: string; key_id: string; value: number; not_after: number; count: number }
      >();
      for (const t of wallet.tickets) {
        const key = `${t.issuer} ${t.key_id}`;
        const group = groups.get(key) ?? {
          issuer: t.issuer,
          key_id: t.key_id,
          value: t.value,
          not_after: t.not_after,
          count: 0,
        };
        group.count += 1;
        groups.set(key, group);
      }
      const now = Math.floor(Date.now() / 1000);
      if (options.json) {
        for (const g of groups.values()) out(JSON.stringify({ ...g, expired: g.not_after <= now }));
        return;
      }
      out('COUNT  BYTES EACH  EXPIRES               KEY               ISSUER');
      for (const g of groups.values()) {
        const expires =
          g.not_after <= now
            ? 'expired'
            : new Date(g.not_after * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
        out(
          `${String(g.count).padEnd(6)} ${String(g.value).padEnd(11)} ${expires.padEnd(21)} ${g.key_id.slice(0, 16)}  ${g.issuer}`,
        );
      }
    });
}
