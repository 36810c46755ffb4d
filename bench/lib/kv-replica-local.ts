/**
 * The replicated store's own local figures: a gateway started in this process against a real
 * node, a group it creates, and that group's `KvReplica` (gateway.kv.space()) driven directly
 * as an abstract-level database: batched puts (each one signed batches, the changed winners and
 * the outbox committed in one transaction), gets and iteration. The same sizes as the bare
 * SqliteLevel figures of bench/kv.ts: 100,000 random 32-byte keys, 100-byte values, batches of
 * 1,000.
 *
 * Two ways: `alone`, the store's own cost: the node asks no proof of work and is cut off (a TCP
 * proxy that drops every connection) once the group exists, so the outbox only waits; and
 * `draining`, as a device runs: the node asks its default work and the outbox is stamped (on
 * `powThreads`), sealed and sent while the puts, gets and iteration go on.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseGatewayConfig } from '../../src/gateway/config.js';
import { startGateway } from '../../src/gateway/server.js';
import { saveIdentity } from '../../src/keys/key-file.js';
import { generateIdentity } from '../../src/keys/keys.js';
import { startTcpProxy } from '../../tools/tcp-proxy.js';
import { startBenchNode } from './node-process.js';

export const LOCAL_KEYS = 100_000;
export const LOCAL_BATCH = 1000;
const KEY_BYTES = 32;
const VALUE_BYTES = 100;

export interface LocalReplicaFigures {
  readonly putsPerSecond: number;
  readonly getsPerSecond: number;
  readonly keysPerSecond: number;
  /** Signed batches (statements) the puts became. */
  readonly statements: number;
  /** Statements still waiting for the node when the puts ended. */
  readonly outboxAfterPuts: number;
}

const view = { keyEncoding: 'view', valueEncoding: 'view' } as const;

export async function localReplicaFigures(options: {
  runs: number;
  gets: number;
  mode: 'alone' | 'draining';
  powBits: number;
  powThreads: number;
  scratch: (prefix: string) => string;
  log: (line: string) => void;
}): Promise<LocalReplicaFigures> {
  const best = { put: 0, get: 0, iterate: 0, statements: 0, outbox: 0 };
  for (let run = 0; run < options.runs; run++) {
    const alone = options.mode === 'alone';
    const node = await startBenchNode([], options.scratch('kvl-node-'), {
      minPowBits: alone ? 0 : options.powBits,
    });
    const proxy = await startTcpProxy(node.port);
    try {
      const dir = options.scratch('kvl-gw-');
      const identity = generateIdentity();
      const keyFile = join(dir, 'identity.json');
      await saveIdentity(keyFile, identity);
      const running = await startGateway(
        parseGatewayConfig({
          port: 0,
          data_dir: join(dir, 'data'),
          key_file: keyFile,
          nodes: [proxy.url],
          pow_threads: options.powThreads,
          log_level: 'silent',
        }),
        { logger: pino({ level: 'silent' }) },
      );
      try {
        const created = await fetch(`${running.url}/api/groups`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${running.gateway.apiKey.key}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ name: 'kv-local' }),
        });
        if (!created.ok) throw new Error(`create group: HTTP ${created.status}`);
        const group = ((await created.json()) as { id: string }).id;
        const { replica } = await running.gateway.kv.space(identity, group);
        if (alone) proxy.cut();

        const keys = Array.from({ length: LOCAL_KEYS }, () => randomBytes(KEY_BYTES));
        const value = randomBytes(VALUE_BYTES);
        let started = performance.now();
        for (let i = 0; i < LOCAL_KEYS; i += LOCAL_BATCH) {
          await replica.batch(
            keys.slice(i, i + LOCAL_BATCH).map((key) => ({ type: 'put' as const, key, value })),
            view as never,
          );
        }
        const putSeconds = (performance.now() - started) / 1000;
        const status = replica.replicaStatus();
        if (status.keys !== LOCAL_KEYS) throw new Error(`replica holds ${status.keys} keys`);

        const order = Array.from(
          { length: options.gets },
          () => keys[Math.floor(Math.random() * LOCAL_KEYS)]!,
        );
        started = performance.now();
        for (const key of order) {
          if ((await replica.get(key as never, view as never)) === undefined) {
            throw new Error('bench: a stored key was not found');
          }
        }
        const getSeconds = (performance.now() - started) / 1000;

        started = performance.now();
        let seen = 0;
        const iterator = replica.keys({ keyEncoding: 'view' } as never);
        for (let page = await iterator.nextv(LOCAL_BATCH); page.length > 0; ) {
          seen += page.length;
          page = await iterator.nextv(LOCAL_BATCH);
        }
        await iterator.close();
        if (seen !== LOCAL_KEYS) throw new Error(`bench: iterated ${seen} keys of ${LOCAL_KEYS}`);
        const iterateSeconds = (performance.now() - started) / 1000;

        best.put = Math.max(best.put, LOCAL_KEYS / putSeconds);
        best.get = Math.max(best.get, options.gets / getSeconds);
        best.iterate = Math.max(best.iterate, LOCAL_KEYS / iterateSeconds);
        best.statements = status.batches;
        best.outbox = status.outbox;
        options.log(
          `  kv-sync local (${options.mode}): run ${run + 1}/${options.runs}: ${Math.round(LOCAL_KEYS / putSeconds)} puts/s, ${status.batches} statements, ${status.outbox} still in the outbox`,
        );
      } finally {
        // Cut off, the outbox stops at once instead of draining before the gateway closes.
        proxy.cut();
        await running.close();
      }
    } finally {
      await proxy.close();
      await node.stop();
    }
  }
  return {
    putsPerSecond: best.put,
    getsPerSecond: best.get,
    keysPerSecond: best.iterate,
    statements: best.statements,
    outboxAfterPuts: best.outbox,
  };
}
