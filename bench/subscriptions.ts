/**
 * Subscription figures (docs/performance.md, "Subscriptions"): subscribers on one node process,
 * held by other processes, all subscribed to one table; a writer puts single entries of that
 * table at a fixed rate, and every subscriber's receipt of every entry is timed from the put's
 * acknowledgement (one machine, one clock).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'node:http';
import { createEntry } from '../src/entry/create.js';
import { encodeFrames, ENTRIES_MEDIA_TYPE } from '../src/entry/framing.js';
import { toHex } from '../src/encoding/bytes.js';
import { generateIdentity, generateTableKey } from '../src/keys/keys.js';
import { percentiles } from './lib/latency.js';
import { startBenchNode } from './lib/node-process.js';
import { cpuMs, rss } from './lib/proc.js';
import type { Report } from './lib/report.js';

const SWARM = fileURLToPath(new URL('./lib/subscriber-swarm.js', import.meta.url));
/** The base64url characters of an entry that name it: the end of its signature. */
const KEY_CHARS = 24;

export interface SubscriptionFigures {
  readonly subscribers: number;
  readonly puts: number;
  readonly rate: number;
  /** Achieved puts per second. */
  readonly achieved: number;
  /** ms from acknowledgement to receipt, over every (subscriber, entry). */
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Receipts that never came. */
  readonly missing: number;
  /** Receipts that came before the writer had the acknowledgement (counted as 0 ms). */
  readonly beforeAck: number;
  readonly nodeCpuShare: number;
  readonly nodeRssBytes: number;
}

interface Swarm {
  readonly child: ChildProcess;
  readonly count: number;
  readonly out: string;
  line(): Promise<string>;
}

function startSwarm(url: string, query: string, count: number, keys: string, out: string): Swarm {
  const child = spawn(process.execPath, [SWARM, url, query, String(count), keys, out], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let waiting: ((line: string) => void) | undefined;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (waiting) {
      const wake = waiting;
      waiting = undefined;
      wake(line);
    } else lines.push(line);
  });
  return {
    child,
    count,
    out,
    line: () =>
      new Promise((resolve, reject) => {
        const queued = lines.shift();
        if (queued !== undefined) resolve(queued);
        else {
          waiting = resolve;
          child.once('exit', (code) => reject(new Error(`subscriber process exited with ${code}`)));
        }
      }),
  };
}

/** POST /put of one entry on a kept-alive connection; resolves at the acknowledgement. */
function putOne(agent: Agent, url: URL, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': ENTRIES_MEDIA_TYPE, 'content-length': body.length },
      },
      (res) => {
        res.resume();
        res.once('end', () => {
          const at = performance.timeOrigin + performance.now();
          if (res.statusCode === 200) resolve(at);
          else reject(new Error(`put answered ${res.statusCode}`));
        });
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

export async function measureSubscriptions(options: {
  subscribers: number;
  processes: number;
  rate: number;
  seconds: number;
  log: (line: string) => void;
}): Promise<SubscriptionFigures> {
  const dir = mkdtempSync(join(process.env.P2PCLOUD_BENCH_DIR ?? tmpdir(), 'p2pcloud-subs-'));
  const config = join(dir, 'node.json');
  writeFileSync(
    config,
    JSON.stringify({
      // Every subscriber connects from 127.0.0.1 here: per-address limits are for machines.
      rate_limit: { loopback: false },
      subscriptions: { max_subscribers: options.subscribers + 100 },
    }),
  );
  const node = await startBenchNode(['--config', config], join(dir, 'data'));
  const swarms: Swarm[] = [];
  try {
    const table = generateTableKey();
    const recipient = generateIdentity();
    const puts = Math.round(options.rate * options.seconds);
    options.log(`subscriptions: preparing ${puts} entries`);
    const bodies: Buffer[] = [];
    const keys: string[] = [];
    for (let i = 0; i < puts; i++) {
      const { bytes } = createEntry({
        table,
        recipient: recipient.box.publicKey,
        plaintext: Buffer.from(`entry ${i} of the subscriptions bench`),
        powBits: 0,
      });
      bodies.push(encodeFrames([bytes]));
      keys.push(bytes.toString('base64url').slice(-KEY_CHARS));
    }
    const keysFile = join(dir, 'keys.txt');
    writeFileSync(keysFile, keys.join('\n'));
    const query = `table=${toHex(table.signing.publicKey)}`;
    const per = Math.ceil(options.subscribers / options.processes);
    for (let p = 0, left = options.subscribers; left > 0; p++, left -= per) {
      swarms.push(
        startSwarm(node.url, query, Math.min(per, left), keysFile, join(dir, `times-${p}`)),
      );
    }
    options.log(`subscriptions: opening ${options.subscribers} subscribers`);
    for (const swarm of swarms) {
      const line = await swarm.line();
      if (line !== 'ready') throw new Error(`subscriber process: ${line}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));

    options.log(`subscriptions: ${puts} puts at ${options.rate}/s`);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const target = new URL('/put', node.url);
    const acks = new Float64Array(puts).fill(NaN);
    const cpuBefore = cpuMs(node.pid);
    const started = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < puts; i++) {
      // Paced by the clock, not by the answers: a slow node does not slow the offered load.
      const due = started + (i * 1000) / options.rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(
        putOne(agent, target, bodies[i]!).then((at) => {
          acks[i] = at;
        }),
      );
    }
    await Promise.all(pending);
    const elapsed = (performance.now() - started) / 1000;
    const cpu = cpuMs(node.pid) - cpuBefore;
    const nodeRss = rss(node.pid);
    agent.destroy();
    // Let the last entries reach everyone.
    await new Promise((resolve) => setTimeout(resolve, 2000));

    const samples: number[] = [];
    let missing = 0;
    let beforeAck = 0;
    for (const swarm of swarms) {
      swarm.child.stdin!.write('stop\n');
      const done = await swarm.line();
      if (!done.startsWith('done')) throw new Error(`subscriber process: ${done}`);
      const raw = readFileSync(swarm.out);
      const times = new Float64Array(raw.buffer, raw.byteOffset, raw.length / 8);
      for (let s = 0; s < swarm.count; s++) {
        for (let i = 0; i < puts; i++) {
          const at = times[s * puts + i]!;
          if (Number.isNaN(at)) {
            missing += 1;
            continue;
          }
          const latency = at - acks[i]!;
          if (latency < 0) beforeAck += 1;
          samples.push(Math.max(0, latency));
        }
      }
    }
    const p = percentiles(samples);
    return {
      subscribers: options.subscribers,
      puts,
      rate: options.rate,
      achieved: puts / elapsed,
      p50: p.p50,
      p99: p.p99,
      max: p.max,
      missing,
      beforeAck,
      nodeCpuShare: cpu / (elapsed * 1000),
      nodeRssBytes: nodeRss,
    };
  } finally {
    await Promise.all(
      swarms.map(async ({ child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill();
        await exited;
      }),
    );
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function subscriptionFigures(
  report: Report,
  options: { quick: boolean; log: (line: string) => void },
): Promise<void> {
  const section = 'subscriptions';
  const f = await measureSubscriptions({
    subscribers: options.quick ? 100 : 1000,
    processes: 2,
    rate: options.quick ? 200 : 1000,
    seconds: options.quick ? 3 : 10,
    log: options.log,
  });
  const what = `${f.subscribers} subscribers, ${f.rate} puts/s`;
  report.add({
    section,
    figure: `put acknowledged → received, ${what}, p50`,
    value: f.p50,
    unit: 'ms',
  });
  report.add({
    section,
    figure: `put acknowledged → received, ${what}, p99`,
    value: f.p99,
    unit: 'ms',
    goal: '≤ 100',
    met: f.p99 <= 100 && f.missing === 0,
  });
  report.add({ section, figure: 'puts per second achieved', value: f.achieved, unit: '/s' });
  report.add({ section, figure: 'node CPU during the puts', value: f.nodeCpuShare, unit: 'cores' });
  report.add({
    section,
    figure: 'node RSS with the subscribers',
    value: f.nodeRssBytes / 1048576,
    unit: 'MiB',
  });
  report.note(
    `subscriptions: ${f.puts} entries × ${f.subscribers} subscribers; ${f.missing} receipts missing, ${f.beforeAck} arrived before the writer read the acknowledgement (counted as 0 ms), max ${f.max.toFixed(1)} ms`,
  );
}
