import type { Command } from 'commander';
import { generateIdentity, generateTableKey, identityText, tableText } from '../../keys/keys.js';
import { saveIdentity, saveTableKey } from '../../keys/key-file.js';
import { P2PError } from '../../errors.js';
import { existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadAnyKeyFile } from '../inputs.js';

/** Checked first, so the message names the option rather than the system call. */
function checkOutDir(path: string): void {
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new P2PError('bad_argument', `--out: cannot write ${path}: no such directory ${dir}`);
  }
}

export function registerKeyCommands(program: Command, out: (line: string) => void): void {
  program
    .command('keygen')
    .description('create an identity (signing + encryption keys); prints its public identity text')
    .requiredOption('--out <file>', 'where to write the secret key file (mode 0600)')
    .option('--force', 'replace the file if it exists')
    .action(async (options: { out: string; force?: boolean }) => {
      checkOutDir(options.out);
      const identity = generateIdentity();
      await saveIdentity(options.out, identity, options.force === true);
      out(identityText(identity));
    });

  const table = program.command('table').description('manage table keys');
  table
    .command('create')
    .description('create a table key pair; prints the table public key')
    .requiredOption('--out <file>', 'where to write the secret key file (mode 0600)')
    .option('--force', 'replace the file if it exists')
    .action(async (options: { out: string; force?: boolean }) => {
      checkOutDir(options.out);
      const key = generateTableKey();
      await saveTableKey(options.out, key, options.force === true);
      out(tableText(key));
    });

  program
    .command('pubkey')
    .description('print the public text of an identity or table key file')
    .argument('<file>', 'key file')
    .action(async (file: string) => {
      const loaded = await loadAnyKeyFile('', file);
      out(loaded.kind === 'table' ? tableText(loaded.key) : identityText(loaded.key));
    });
}
