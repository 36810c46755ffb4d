import type { Command } from 'commander';
import { callJson, endpoint } from '../../client/http.js';
import { P2PError } from '../../errors.js';
import { createProxyConnector } from '../../client/proxy.js';
import { PROXY_HELP, nodeUrls, proxyFor } from '../inputs.js';

interface PeerView {
  url: string;
  source: string;
  tables: 'all' | string[];
  state: string;
  last_seen: number | null;
  next_attempt_in_seconds: number;
  failures: number;
  penalty: number;
}

function ago(ms: number | null, now: number): string {
  if (!ms) return 'never';
  const seconds = Math.max(0, Math.round((now - ms) / 1000));
  if (seconds < 120) return `${seconds}s ago`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}m ago`;
  return `${Math.round(seconds / 3600)}h ago`;
}

/** Aligned columns for a terminal. */
export function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) =>
    r
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd(),
  );
}

export function registerPeersCommand(program: Command, out: (line: string) => void): void {
  program
    .command('peers')
    .description("list a node's peers and their state")
    .requiredOption('--node <url>', 'node URL')
    .option('--json', 'one JSON object per line')
    .option('--proxy <url>', PROXY_HELP)
    .action(async (options: { node: string; json?: boolean; proxy?: string }) => {
      const [node] = nodeUrls('--node', [options.node]) as [string];
      const proxy = proxyFor(options.proxy, '--node', [node]);
      const answer = await callJson<{ peers?: unknown }>(
        'GET',
        endpoint(node, '/sync/peers'),
        undefined,
        proxy ? { connector: createProxyConnector(proxy) } : {},
      );
      if (!Array.isArray(answer.peers))
        throw new P2PError('node_lied', `${node}: /sync/peers answer has no peer list`);
      const peers = answer.peers as PeerView[];
      if (options.json) {
        for (const peer of peers) out(JSON.stringify(peer));
        return;
      }
      if (peers.length === 0) {
        out('no peers');
        return;
      }
      const now = Date.now();
      const rows = [['URL', 'STATE', 'SEEN', 'FAILURES', 'PENALTY', 'NEXT', 'TABLES', 'FROM']];
      for (const p of peers) {
        rows.push([
          p.url,
          p.state,
          ago(p.last_seen, now),
          String(p.failures),
          String(p.penalty),
          p.next_attempt_in_seconds > 0 ? `in ${p.next_attempt_in_seconds}s` : 'now',
          p.tables === 'all' ? 'all' : String(p.tables.length),
          p.source,
        ]);
      }
      for (const line of table(rows)) out(line);
    });
}
