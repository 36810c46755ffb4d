import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import { deleteInBatches } from '../../node/tools/delete-entries.js';
import type { DeleteFilter } from '../../store/store.js';
import { formatBytes } from '../files/progress.js';
import { tableKeyTextOrFile } from '../inputs.js';
import { collect, parseSince } from '../parse.js';
import {
  countBar,
  storeOptions,
  toolConfig,
  withStore,
  type StoreAccessOptions,
} from './store-access.js';

interface DeleteOptions extends StoreAccessOptions {
  table?: string[];
  before?: string;
  yes?: boolean;
  json?: boolean;
}

export function registerDeleteCommand(program: Command, out: (line: string) => void): void {
  storeOptions(
    program
      .command('delete')
      .description(
        "delete a table's entries (or those created before a time) from a store; without --yes only says what would go (the node must be stopped to delete)",
      ),
  )
    .option(
      '--table <table>',
      'the table: its public key (p2ptable1…) or key file (repeatable; at least one)',
      collect,
    )
    .option('--before <time>', 'only entries created before: ms, ISO date, or 15m/2h/7d ago')
    .option('--yes', 'delete them (default: a dry run that changes nothing)')
    .option('--json', 'print the outcome as JSON')
    .action(async (options: DeleteOptions) => {
      if (!options.table || options.table.length === 0)
        throw new P2PError(
          'bad_argument',
          '--table: name at least one table whose entries to delete',
        );
      const filter: DeleteFilter = {
        tables: await Promise.all(options.table.map((t) => tableKeyTextOrFile('--table', t))),
        ...(options.before ? { createdBefore: parseSince('--before', options.before) } : {}),
      };
      const config = await toolConfig(options);
      const access = options.yes ? { mustExist: true, lockAs: 'delete' } : { mustExist: true };
      await withStore(config, access, async (store) => {
        const { count, bytes } = await store.countMatching(filter);
        if (!options.yes) {
          out(
            options.json
              ? JSON.stringify({ dry_run: true, entries: count, bytes })
              : `would delete ${count} entries (${formatBytes(bytes)}); nothing was changed: run again with --yes to delete them`,
          );
          return;
        }
        const bar = countBar('delete', count);
        let deleted;
        try {
          deleted = await deleteInBatches(store, filter, { onProgress: (n) => bar.update(n) });
        } finally {
          bar.stop();
        }
        out(
          options.json
            ? JSON.stringify({ dry_run: false, entries: deleted, bytes })
            : `deleted ${deleted} entries (${formatBytes(bytes)}); p2pcloud compact gives their space back to the disk`,
        );
      });
    });
}
