import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { stopSignal } from '../stop-signal.js';
import { mergeConfig, readConfigFile } from '../../node/config.js';
import { parseIssuerConfig } from '../../issuer/config.js';
import { startIssuer } from '../../issuer/server.js';
import { IssuerStore } from '../../issuer/store.js';
import { issuerKeys } from '../../client/tickets/issuer-keys.js';
import { nodeUrls, readUserFile } from '../inputs.js';
import { parseIntOption } from '../parse.js';

interface IssuerOptions {
  port?: string;
  host?: string;
  data?: string;
  config?: string;
  keyBits?: string;
  ticketBytes?: string;
  logLevel?: string;
}

export function registerIssuerCommand(program: Command, out: (line: string) => void): void {
  const defaults = parseIssuerConfig({});
  const issuer = program
    .command('issuer')
    .description(
      'run a ticket issuer (docs/tickets.md): blind-signs prepaid tickets against vouchers and keeps the spent set',
    )
    .option('--port <n>', `TCP port; 0 picks a free one (default ${defaults.port})`)
    .option('--host <host>', `address to listen on (default ${defaults.host})`)
    .option('--data <dir>', `data directory (default ${defaults.data_dir})`)
    .option('--config <file>', 'JSON config file (flags override it; keys in docs/tickets.md §6)')
    .option(
      '--key-bits <n>',
      `RSA modulus of new keys: 2048, 3072 or 4096 (default ${defaults.key_bits})`,
    )
    .option(
      '--ticket-bytes <n>',
      `bytes one ticket lets a node write (default ${defaults.ticket_bytes})`,
    )
    .option(
      '--log-level <level>',
      `fatal, error, warn, info, debug, trace or silent (default ${defaults.log_level})`,
    )
    .action(async (options: IssuerOptions) => {
      if (options.config) await readUserFile('--config', options.config);
      const file = options.config ? await readConfigFile(options.config) : {};
      const config = parseIssuerConfig(
        mergeConfig(file, {
          port:
            options.port === undefined
              ? undefined
              : parseIntOption('--port', options.port, 0, 65535),
          host: options.host,
          data_dir: options.data,
          key_bits:
            options.keyBits === undefined
              ? undefined
              : parseIntOption('--key-bits', options.keyBits, 2048, 4096),
          ticket_bytes:
            options.ticketBytes === undefined
              ? undefined
              : parseIntOption('--ticket-bytes', options.ticketBytes, 1, 2 ** 40),
          log_level: options.logLevel,
        }),
      );
      const running = await startIssuer(config);
      // The operator of a node or an offer needs the key id to trust this issuer.
      const key = await running.keyring.current(Math.floor(Date.now() / 1000));
      out(
        `p2pcloud issuer listening on ${running.url} (data: ${config.data_dir}; current key ${key.key.record.id})`,
      );
      const signal = await stopSignal();
      running.log.info({ signal }, 'issuer stopping');
      await running.close();
      running.log.flush();
    });

  issuer
    .command('voucher')
    .description('make a voucher good for N tickets and print it (give it to one buyer)')
    .requiredOption('--tickets <n>', 'how many tickets the voucher buys')
    .option('--data <dir>', `the issuer's data directory (default ${defaults.data_dir})`)
    .action((_options: unknown, command: Command) => {
      // --data is the issuer command's own option too, so commander hands it to either.
      const options = command.optsWithGlobals<{ tickets: string; data?: string }>();
      const tickets = parseIntOption('--tickets', options.tickets, 1, 1_000_000_000);
      const store = new IssuerStore(options.data ?? defaults.data_dir);
      try {
        const token = randomBytes(24).toString('base64url');
        store.addVoucher(token, tickets, Math.floor(Date.now() / 1000));
        out(token);
      } finally {
        store.close();
      }
    });

  issuer
    .command('keys')
    .description(
      "print a running issuer's key ids with their validity, the current one first (what a node's tickets config and an offer name)",
    )
    .requiredOption('--url <url>', 'the issuer URL')
    .option('--current', 'print only the id of the key that signs now')
    .option('--json', 'print one JSON object per key')
    .action(async (options: { url: string; current?: boolean; json?: boolean }) => {
      const [url] = nodeUrls('--url', [options.url]);
      const { current, keys } = await issuerKeys(url!);
      if (options.current) {
        out(current);
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const iso = (s: number): string => new Date(s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
      for (const k of keys) {
        const state = k.id === current ? 'current' : k.not_after <= now ? 'expired' : 'valid';
        if (options.json) {
          out(
            JSON.stringify({
              id: k.id,
              state,
              kind: k.kind,
              value: k.value,
              modulus_bits: k.modulus_bits,
              not_before: k.not_before,
              not_after: k.not_after,
            }),
          );
        } else {
          out(
            `${k.id}  ${state.padEnd(7)}  ${iso(k.not_before)} to ${iso(k.not_after)}  ${k.kind} ${k.value} bytes`,
          );
        }
      }
    });
}
