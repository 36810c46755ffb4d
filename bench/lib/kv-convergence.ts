/**
 * Two devices write apart, then converge: one node process and two gateway processes (two
 * persons, writers of one group), each gateway reaching the node through its own byte-counting
 * TCP proxy. The node is stopped; each gateway takes `perSide` distinct keys through
 * POST /api/spaces/:space/kv/batch, every request acknowledged while no node answers. The node
 * is then started again on the same port and data directory, and the time is taken from its
 * first answer until both replicas hold every key and read back identical (a digest of the
 * whole range read through GET …/kv/range, 1,000 keys a page).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startTcpProxy, type TcpProxy } from '../../tools/tcp-proxy.js';
import { startBenchGateway, ok, type BenchGateway } from './gateway-process.js';
import { health, startBenchNode, type BenchNode } from './node-process.js';
import { cpuMs } from './proc.js';
import { until } from './until.js';

/** Keys are `a/000001` … (8 bytes), values 32 ASCII bytes, sent as UTF-8 text. */
export const KEY_BYTES = 8;
export const VALUE_BYTES = 32;
/**
 * Operations per request. The route takes up to 5,000, but the gateway's 256 KiB body limit
 * binds first: one put of these sizes is ~75 bytes of JSON, so 5,000 would be ~375 KB.
 */
export const OPS_PER_REQUEST = 2500;

export interface Convergence {
  readonly perSide: number;
  readonly powBits: number;
  readonly pollIntervalSeconds: number;
  /** Wall seconds of the offline writes (both gateways at once, every request acknowledged). */
  readonly offlineWriteSeconds: number;
  /** From the node's first answer after its return until both replicas hold the same keys. */
  readonly seconds: number;
  /** Of which: until the first replica held every key. */
  readonly firstSeconds: number;
  /** Of which: until both outboxes were empty (every batch stamped, sealed and on the node). */
  readonly uploadedSeconds: number;
  /** CPU seconds both gateway processes spent (all threads) from the node's return to convergence. */
  readonly gatewayCpuSeconds: number;
  /** Bytes both proxies forwarded, both ways, from the node's return to convergence. */
  readonly wire: { up: number; down: number };
  /** Entries and their bytes the node holds for the writes (its /health, after minus before). */
  readonly node: { entries: number; bytes: number; fileBytes: number };
  readonly digest: string;
}

/** Bytes of the node's store files; measured with the node stopped, so the log is folded in. */
function storeFileBytes(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir)
    .filter((name) => name.startsWith('entries.sqlite'))
    .reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** SHA-256 over every key and value of the space, read a page of 1,000 at a time. */
async function rangeDigest(
  gateway: BenchGateway,
  space: string,
): Promise<{ keys: number; digest: string }> {
  const hash = createHash('sha256');
  let keys = 0;
  let after: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const query = `limit=1000${after === null ? '' : `&gt=${encodeURIComponent(after)}`}`;
    const body = await ok(gateway.api('GET', `/api/spaces/${space}/kv/range?${query}`), 'range');
    for (const entry of body.entries as { key: string; value: string }[]) {
      hash.update(`${entry.key.length}:${entry.key}${entry.value.length}:${entry.value}`);
      keys += 1;
    }
    after = body.next as string | null;
    if (after === null) return { keys, digest: hash.digest('hex') };
  }
  throw new Error('range read did not end');
}

async function status(
  gateway: BenchGateway,
  space: string,
): Promise<{ keys: number; outbox: number }> {
  const body = await ok(gateway.api('GET', `/api/spaces/${space}/kv/status`), 'status');
  return { keys: body.keys as number, outbox: body.outbox as number };
}

/** `perSide` puts of `prefix/000001`… through the batch route, one request after another. */
async function writeKeys(gateway: BenchGateway, space: string, prefix: string, perSide: number) {
  for (let first = 1; first <= perSide; first += OPS_PER_REQUEST) {
    const ops = [];
    for (let n = first; n < first + OPS_PER_REQUEST && n <= perSide; n++) {
      ops.push({
        type: 'put',
        key: `${prefix}/${String(n).padStart(6, '0')}`,
        value: randomBytes(24).toString('base64'),
      });
    }
    await ok(gateway.api('POST', `/api/spaces/${space}/kv/batch`, { ops }), 'kv batch');
  }
}

export async function kvConvergence(options: {
  perSide: number;
  powBits: number;
  pollIntervalSeconds: number;
  scratch: (prefix: string) => string;
  log: (line: string) => void;
}): Promise<Convergence> {
  const { perSide, powBits, pollIntervalSeconds, log } = options;
  if (perSide > 999_999) throw new Error('keys are numbered with 6 digits');
  const nodeDir = options.scratch('kvs-node-');
  let node: BenchNode = await startBenchNode([], nodeDir, { minPowBits: powBits });
  const port = node.port;
  const proxies: TcpProxy[] = [];
  const gateways: BenchGateway[] = [];
  try {
    for (const name of ['a', 'b']) {
      const proxy = await startTcpProxy(port);
      proxies.push(proxy);
      gateways.push(
        await startBenchGateway({
          nodes: [proxy.url],
          dataDir: options.scratch(`kvs-gw-${name}-`),
          pollIntervalSeconds,
        }),
      );
    }
    const [a, b] = gateways as [BenchGateway, BenchGateway];
    const group = (await ok(a.api('POST', '/api/groups', { name: 'kv-sync' }), 'create group'))
      .id as string;
    await ok(
      a.api('POST', `/api/groups/${group}/members`, { member: b.identity, role: 'writer' }),
      'add member',
    );
    const invitation = await until(
      'the invitation',
      async () => {
        await b.api('POST', '/api/refresh', {});
        const list = await ok(b.api('GET', '/api/invitations'), 'invitations');
        return (list.invitations as { id: string; space: string }[]).find((i) => i.space === group);
      },
      60_000,
      200,
    );
    await ok(b.api('POST', `/api/invitations/${invitation.id}/accept`, {}), 'accept');
    // One key each while the node is up: both replicas are open and each knows the other writer.
    for (const [gateway, prefix] of [
      [a, 'a'],
      [b, 'b'],
    ] as const) {
      await until(
        'a writable group',
        async () => {
          await gateway.api('POST', '/api/refresh', {});
          const view = await gateway.api('GET', `/api/groups/${group}`);
          return view.status === 200 && view.body.writable === true ? true : undefined;
        },
        60_000,
        200,
      );
      await ok(
        gateway.api('PUT', `/api/spaces/${group}/kv/value`, { key: `${prefix}/000000`, value: '' }),
        'first put',
      );
    }
    await until(
      'both replicas hold both first keys',
      async () => {
        await Promise.all(gateways.map((g) => g.api('POST', '/api/refresh', {})));
        const both = await Promise.all(gateways.map((g) => status(g, group)));
        return both.every((s) => s.keys === 2 && s.outbox === 0) ? true : undefined;
      },
      60_000,
      200,
    );
    const before = await health(node);
    await node.stop();
    const fileBefore = storeFileBytes(nodeDir);

    log(`  kv-sync: node stopped; each gateway writes ${perSide.toLocaleString('en-US')} keys…`);
    const t0 = performance.now();
    await Promise.all([writeKeys(a, group, 'a', perSide), writeKeys(b, group, 'b', perSide)]);
    const offlineWriteSeconds = (performance.now() - t0) / 1000;
    const total = 2 * perSide + 2;
    const offline = await Promise.all(gateways.map((g) => status(g, group)));
    if (offline.some((s) => s.keys !== perSide + 2 || s.outbox === 0)) {
      throw new Error(`offline writes not as expected: ${JSON.stringify(offline)}`);
    }

    for (const proxy of proxies) proxy.reset();
    const cpuOf = (): number => gateways.reduce((sum, g) => sum + cpuMs(g.child.pid!), 0);
    const cpuBefore = cpuOf();
    node = await startBenchNode(['--port', String(port)], nodeDir, { minPowBits: powBits });
    const back = performance.now();
    log(`  kv-sync: node back on port ${port}; waiting for both replicas…`);
    let firstAt: number | undefined;
    let uploadedAt: number | undefined;
    let wire = { up: 0, down: 0 };
    let settledAt = 0;
    let cpuAtSettled = 0;
    let digest = '';
    await until(
      'both replicas to converge',
      async () => {
        const now = await Promise.all(gateways.map((g) => status(g, group)));
        if (firstAt === undefined && now.some((s) => s.keys === total)) {
          firstAt = performance.now();
        }
        if (uploadedAt === undefined && now.every((s) => s.outbox === 0)) {
          uploadedAt = performance.now();
        }
        if (!now.every((s) => s.keys === total && s.outbox === 0)) return undefined;
        const at = performance.now();
        const bytes = {
          up: proxies.reduce((sum, p) => sum + p.bytes.up, 0),
          down: proxies.reduce((sum, p) => sum + p.bytes.down, 0),
        };
        // Same key count with distinct keys written once each; the digest proves the contents.
        const digests = await Promise.all(gateways.map((g) => rangeDigest(g, group)));
        if (digests[0]!.digest !== digests[1]!.digest || digests[0]!.keys !== total) {
          return undefined;
        }
        settledAt = at;
        cpuAtSettled = cpuOf();
        wire = bytes;
        digest = digests[0]!.digest;
        return true;
      },
      Math.max(120_000, perSide * 10),
      20,
    );
    const after = await health(node);
    await node.stop();
    const fileAfter = storeFileBytes(nodeDir);
    return {
      perSide,
      powBits,
      pollIntervalSeconds,
      offlineWriteSeconds,
      seconds: (settledAt - back) / 1000,
      firstSeconds: ((firstAt ?? settledAt) - back) / 1000,
      uploadedSeconds: ((uploadedAt ?? settledAt) - back) / 1000,
      gatewayCpuSeconds: (cpuAtSettled - cpuBefore) / 1000,
      wire,
      node: {
        entries: after.entries - before.entries,
        bytes: after.bytes - before.bytes,
        fileBytes: fileAfter - fileBefore,
      },
      digest,
    };
  } finally {
    for (const gateway of gateways) await gateway.stop().catch(() => undefined);
    for (const proxy of proxies) await proxy.close().catch(() => undefined);
    await node.stop().catch(() => undefined);
  }
}
