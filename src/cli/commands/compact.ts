import type { Command } from 'commander';
import { formatBytes } from '../files/progress.js';
import { storeOptions, toolConfig, withStore, type StoreAccessOptions } from './store-access.js';

interface CompactOptions extends StoreAccessOptions {
  json?: boolean;
}

export function registerCompactCommand(program: Command, out: (line: string) => void): void {
  storeOptions(
    program
      .command('compact')
      .description(
        'rewrite a store without the space its deleted entries left (needs free disk space about twice its size; the node must be stopped)',
      ),
  )
    .option('--json', 'print the sizes as JSON')
    .action(async (options: CompactOptions) => {
      const config = await toolConfig(options);
      await withStore(config, { mustExist: true, lockAs: 'compact' }, async (store) => {
        const { beforeBytes, afterBytes } = await store.compact();
        if (options.json) {
          out(
            JSON.stringify({ before_bytes: beforeBytes ?? null, after_bytes: afterBytes ?? null }),
          );
        } else if (beforeBytes !== undefined && afterBytes !== undefined) {
          out(
            `compacted: ${formatBytes(beforeBytes)} → ${formatBytes(afterBytes)} on disk (${formatBytes(Math.max(0, beforeBytes - afterBytes))} freed)`,
          );
        } else {
          out('compacted');
        }
      });
    });
}
