#!/usr/bin/env node
/**
 * The p2pcloud command. Each command prints its result on stdout and anything else on stderr;
 * any failure ends with one readable line on stderr and a non-zero exit code.
 */
import { Command, CommanderError } from 'commander';
import { P2PError } from '../errors.js';
import { VERSION } from '../version.js';
import { registerKeyCommands } from './commands/keys.js';
import { registerNodeCommand } from './commands/node.js';
import { registerPutCommand } from './commands/put.js';
import { registerGetCommand } from './commands/get.js';
import { registerGatewayCommand } from './commands/gateway.js';
import { registerAppCommands } from './commands/app.js';
import { registerPeersCommand } from './commands/peers.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerGroupCommands } from './commands/group.js';
import { registerKvCommands } from './commands/kv.js';
import { registerLogCommands } from './commands/log.js';
import { registerFilesCommands } from './commands/files.js';
import { registerTunnelCommands } from './commands/tunnel.js';
import { registerExportCommand } from './commands/export.js';
import { registerImportCommand } from './commands/import.js';
import { registerDeleteCommand } from './commands/delete.js';
import { registerCompactCommand } from './commands/compact.js';
import { registerStatsCommand } from './commands/stats.js';
import { registerStoreCommands } from './commands/store.js';
import { registerJobCommands } from './commands/job.js';
import { registerIssuerCommand } from './commands/issuer.js';
import { registerTicketsCommands } from './commands/tickets.js';
import { registerMarketCommands } from './commands/market.js';
import { registerBillingCommands } from './commands/billing.js';

const out = (line: string): void => {
  process.stdout.write(`${line}\n`);
};
const err = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('p2pcloud')
    .description(
      'An encrypted peer-to-peer database: run a node, create keys, put and get sealed entries.',
    )
    .version(VERSION)
    .showHelpAfterError(false)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => process.stdout.write(text),
      // Help asked for by mistake (a command group without its subcommand) goes to stderr;
      // errors are printed by main() as one "p2pcloud:" line instead.
      writeErr: (text) => process.stderr.write(text),
      outputError: () => undefined,
    });
  registerKeyCommands(program, out);
  registerNodeCommand(program, out);
  registerPutCommand(program, out, err);
  registerGetCommand(program, out, err);
  registerPeersCommand(program, out);
  registerGatewayCommand(program, out);
  registerAppCommands(program, out);
  registerDeviceCommands(program, out, err);
  registerGroupCommands(program, out);
  registerKvCommands(program, out, err);
  registerLogCommands(program, out, err);
  registerFilesCommands(program, out, err);
  registerTunnelCommands(program, out, err);
  registerExportCommand(program, out, err);
  registerImportCommand(program, out);
  registerDeleteCommand(program, out);
  registerCompactCommand(program, out);
  registerStatsCommand(program, out);
  registerStoreCommands(program, out);
  registerJobCommands(program, out, err);
  registerIssuerCommand(program, out);
  registerTicketsCommands(program, out);
  registerMarketCommands(program, out, err);
  registerBillingCommands(program, out);
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    // Without a command there is nothing to do: say what there is, and fail. (A command group
    // without its subcommand, such as `p2pcloud table`, does the same inside commander.)
    if (argv.length === 0) program.help({ error: true });
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help shown because it was asked for exits 0; help shown instead of a command, 1.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      if (error.code === 'commander.help') return error.exitCode === 0 ? 0 : 2;
      err(`p2pcloud: ${error.message.replace(/^error: /, '')}`);
      return 2;
    }
    if (error instanceof P2PError) {
      err(`p2pcloud: ${error.message}`);
      return 1;
    }
    err(`p2pcloud: ${(error as Error).message ?? String(error)}`);
    return 1;
  }
}

const exitCode = await main(process.argv.slice(2));
process.exitCode = exitCode;
