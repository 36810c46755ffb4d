import type { Command } from 'commander';
import { generateIdentity, generateTableKey, identityText, tableText } from '../../keys/keys.js';
import { loadIdentity, loadTableKey, saveIdentity, saveTableKey } from '../../keys/key-file.js';
import { P2PError } from '../../errors.js';
import { readFile } from 'node:fs/promises';

export function registerKeyCommands(program: Command, out: (line: string) => void): void {
  program
    .command('keygen')
    .description('create an identity (signing + encryption keys); prints its public identity text')
    .requiredOption('--out <file>', 'where to write the secret key file (mode 0600)')
    .option('--force', 'replace the file if it exists')
    .action(async (options: { out: string; force?: boolean }) => {
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
      const key = generateTableKey();
      await saveTableKey(options.out, key, options.force === true);
      out(tableText(key));
    });

  program
    .command('pubkey')
    .description('print the public text of an identity or table key file')
    .argument('<file>', 'key file')
    .action(async (file: string) => {
      const text = await readFile(file, 'utf8').catch((error: Error) => {
        throw new P2PError('bad_key_file', `cannot read ${file}: ${error.message}`);
      });
      let kind: unknown;
      try {
        kind = (JSON.parse(text) as { kind?: unknown }).kind;
      } catch {
        throw new P2PError('bad_key_file', `${file} is not a p2pcloud key file`);
      }
      if (kind === 'p2pcloud-table') out(tableText(await loadTableKey(file)));
      else out(identityText(await loadIdentity(file)));
    });
}
