/**
 * One hostile peer against a real victim node: the victim syncs with an honest node (a real
 * process too) while the hostile peer, introduced by hello like any stranger, lies at it. The
 * scenario samples what the attack may harm (the victim's resident memory, how fast /health
 * answers) and checks what must keep working (fresh honest entries arrive; the liar is
 * penalised, then dropped and not dialled again).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  startHostilePeer,
  type HostilePeer,
  type HostilePeerOptions,
} from '../../tools/hostile-peer.js';
import { makeEntry } from '../helpers/entries.js';
import { health, postJson } from '../helpers/http.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import {
  configFile,
  countStored,
  errorLines,
  putAll,
  syncPeers,
  waitUntil,
  type PeerView,
} from '../helpers/sync.js';
import { toHex } from '../../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';

/** Resident memory of a process in MB (Linux /proc). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status);
  return kb ? Number(kb[1]) / 1024 : 0;
}

/** `n` valid entries with `powBits` of work (a victim with a minimum needs them). */
export function workedEntries(
  n: number,
  powBits: number,
  label: string,
): { bytes: Buffer[]; ids: string[] } {
  const table = generateTableKey();
  const recipient = generateIdentity();
  const bytes: Buffer[] = [];
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const entry = makeEntry({ table, recipient, text: `${label} ${i}`, powBits });
    bytes.push(entry.bytes);
    ids.push(toHex(entry.id));
  }
  return { bytes, ids };
}

export interface Attack {
  readonly victim: NodeProcess;
  readonly honest: NodeProcess;
  readonly liar: HostilePeer;
  /** Peak victim RSS (MB) and slowest /health (ms) seen while sampling. */
  readonly peak: { rssMb: number; healthMs: number; samples: number };
  liarView(): Promise<PeerView | undefined>;
  /** Puts `n` fresh entries on the honest node; resolves with the ms until the victim has them. */
  honestArrive(n: number, withinMs: number): Promise<number>;
  /** Waits until the liar is dropped; returns the ms it took. */
  dropped(withinMs: number): Promise<number>;
  /** Checks that the dropped liar is not dialled for `ms`. */
  notDialled(ms: number): Promise<void>;
  reasons(): string[];
  stop(): Promise<void>;
}

export interface AttackOptions {
  readonly liar: HostilePeerOptions;
  /** Entries the victim and the honest node share before the attack. */
  readonly shared?: number;
  readonly powBits?: number;
  readonly intervalSeconds?: number;
  readonly victimConfig?: Record<string, unknown>;
}

export async function startAttack(options: AttackOptions): Promise<Attack> {
  const pow = options.powBits ?? 0;
  const interval = options.intervalSeconds ?? 1;
  const base = ['--min-pow', String(pow), '--log-level', 'warn'];
  // The honest node is passive (no rounds, no pushes): what reaches the victim, the victim's
  // own sessions fetched.
  const honest = await spawnNode([
    ...base,
    '--config',
    configFile({ sync: { max_peers: 1, push_peers: 0 } }),
    '--sync-interval',
    '3600',
  ]);
  const shared = workedEntries(options.shared ?? 300, pow, 'shared');
  await putAll(honest.url, shared.bytes);
  const victim = await spawnNode([
    ...base,
    '--config',
    configFile({ sync: { timeout_seconds: 10, ...options.victimConfig } }),
    '--sync-interval',
    String(interval),
    '--peer',
    honest.url,
  ]);
  await waitUntil(
    'the victim copies its honest peer',
    async () => (await countStored(victim.url, shared.ids)) === shared.ids.length,
    60_000,
  );

  const liar = await startHostilePeer(options.liar);
  const peak = { rssMb: 0, healthMs: 0, samples: 0 };
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const started = Date.now();
      try {
        await health(victim.url);
        peak.healthMs = Math.max(peak.healthMs, Date.now() - started);
        peak.rssMb = Math.max(peak.rssMb, rssMb(victim.child.pid!));
        peak.samples += 1;
      } catch {
        // The victim is gone (or not answering): the checks that follow say so.
        peak.healthMs = Math.max(peak.healthMs, Date.now() - started);
        if (victim.child.exitCode !== null) break;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const hello = await postJson(victim.url, '/hello', { version: 1, urls: [liar.url] });
  assert.equal(hello.status, 200, String(hello.body));

  const liarView = async (): Promise<PeerView | undefined> =>
    (await syncPeers(victim.url)).find((p) => p.url === liar.url);
  const reasons = (): string[] =>
    victim
      .stderr()
      .split('\n')
      .filter((line) => line.includes('peer misbehaved') && line.includes(liar.url))
      .map((line) => (JSON.parse(line) as { reason: string }).reason);
  let batch = 0;
  return {
    victim,
    honest,
    liar,
    peak,
    liarView,
    async honestArrive(n, withinMs) {
      const fresh = workedEntries(n, pow, `fresh ${batch++}`);
      await putAll(honest.url, fresh.bytes);
      return waitUntil(
        'fresh honest entries reach the victim',
        async () => (await countStored(victim.url, fresh.ids)) === n,
        withinMs,
        async () => JSON.stringify({ liar: await liarView(), stats: liar.stats() }),
        100,
      );
    },
    async dropped(withinMs) {
      return waitUntil(
        `the ${liar.mode} peer is dropped`,
        async () => (await liarView())?.state === 'dropped',
        withinMs,
        async () =>
          JSON.stringify({
            view: await liarView(),
            stats: liar.stats(),
            peak,
            reasons: reasons(),
          }),
      );
    },
    async notDialled(ms) {
      const before = liar.total();
      await new Promise((resolve) => setTimeout(resolve, ms));
      assert.equal(liar.total(), before, `the dropped ${liar.mode} peer was dialled again`);
    },
    reasons,
    async stop() {
      sampling = false;
      await sampler;
      await liar.close();
      assert.deepEqual(errorLines(victim.stderr()), [], 'the victim logged errors');
      assert.equal((await health(victim.url)).status, 'ok');
      assert.equal(await victim.stop(), 0);
      assert.equal(await honest.stop(), 0);
    },
  };
}
