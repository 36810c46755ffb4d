/**
 * What idle tunnels cost a relay: starts a relaying node as its own process, pairs N dials
 * (default 1,000) with one listener through it, lets them sit idle and prints the node's
 * resident memory before and after (from /proc, so Linux only).
 *
 *   node dist/tools/relay-idle-legs.js [N]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { randomBytes } from '../src/crypto/random.js';
import { generateIdentity, identityText } from '../src/keys/keys.js';
import { dialOnRelay, listenOnRelay } from '../src/client/relay/index.js';

const count = Number(process.argv[2] ?? 1000);
const cli = new URL('../src/cli/main.js', import.meta.url).pathname;

function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const dir = mkdtempSync(join(tmpdir(), 'relay-idle-'));
writeFileSync(
  join(dir, 'config.json'),
  JSON.stringify({
    relay: {
      enabled: true,
      max_legs: 4 * count + 100,
      max_legs_per_identity: 2 * count + 10,
      max_handshakes_per_address: 1000,
    },
    // The node's own bound on connections per address would stop one machine's N legs.
    rate_limit: { loopback: false },
  }),
);
const node = spawn(
  process.execPath,
  [
    cli,
    'node',
    '--port',
    '0',
    '--data',
    dir,
    '--config',
    join(dir, 'config.json'),
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
try {
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: node.stdout! }).on('line', (l) => {
      if (l.includes('listening on')) resolve(l);
    }),
  );
  const url = /listening on (\S+)/.exec(line)![1]!;
  const service = randomBytes(32);
  const exposer = generateIdentity();
  const dialer = generateIdentity();
  const listener = listenOnRelay({ relay: url, self: exposer, service });
  await once(listener, 'registered');
  const legs: Duplex[] = [];
  listener.on('leg', (leg: Duplex) => legs.push(leg));
  // Settle, then measure the node with its listener and no tunnel.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const before = rssMiB(node.pid!);
  const started = performance.now();
  for (let done = 0; done < count; done += 50) {
    const batch = Array.from({ length: Math.min(50, count - done) }, () =>
      dialOnRelay({ relay: url, self: dialer, service, device: identityText(exposer) }),
    );
    legs.push(...(await Promise.all(batch)));
  }
  const pairSeconds = (performance.now() - started) / 1000;
  // Idle: let the node's allocations settle and its garbage be collected.
  await new Promise((resolve) => setTimeout(resolve, 5000));
  const after = rssMiB(node.pid!);
  const health = (await (await fetch(`${url}/health`)).json()) as { relay: { paired: number } };
  console.log(
    JSON.stringify({
      tunnels: count,
      paired_at_relay: health.relay.paired,
      relay_rss_before_mib: Number(before.toFixed(1)),
      relay_rss_after_mib: Number(after.toFixed(1)),
      relay_rss_added_mib: Number((after - before).toFixed(1)),
      kib_per_tunnel: Number((((after - before) * 1024) / count).toFixed(1)),
      pairing_seconds: Number(pairSeconds.toFixed(2)),
    }),
  );
  for (const leg of legs) leg.destroy();
  listener.close();
} finally {
  node.kill('SIGTERM');
  await once(node, 'exit');
  rmSync(dir, { recursive: true, force: true });
}
