/**
 * Tunnel figures (docs/performance.md, "Tunnels"): the two ends of a tunnel as child processes
 * of their own and a real node process as the relay between them, measured with the secure
 * channel and, over the same path in the same run, without it (raw paired legs), so the ratio
 * shows what the channel costs.
 *
 * (a) one bulk stream through the relay: MB/s with the channel and as a plain TCP copy, and
 *     their ratio (and the channel on a direct loopback connection, as a note);
 * (b) the round trip of a 64-byte echo: through the relay with the channel, raw through the
 *     relay, and raw over direct loopback TCP; what the channel and the relay add;
 * (c) 1,000 idle tunnels at once: the relay node's RSS before and with them.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { CommandChild } from './lib/command-child.js';
import { startBenchNode } from './lib/node-process.js';
import { rss } from './lib/proc.js';
import type { Report } from './lib/report.js';

const END = fileURLToPath(new URL('./lib/tunnel-end.js', import.meta.url));
const MIB = 1024 * 1024;

interface Ports {
  readonly tunnel: number;
  readonly raw: number;
}

interface Latency {
  readonly p50: number;
  readonly p99: number;
}

export interface TunnelFigures {
  /** MB/s (10^6 bytes) of one bulk stream. */
  readonly bulk: { tunnel: number; raw: number; ratio: number; directTunnel: number };
  /** Round trips in ms. */
  readonly echo: { tunnel: Latency; raw: Latency; direct: Latency };
  /** The relay node's RSS in bytes, before and with the idle tunnels open. */
  readonly idle: { count: number; before: number; after: number };
}

/**
 * The relay's config for the bench: relaying on, its caps lifted above what one run uses (the
 * defaults cap an identity at 16 MiB/s and 64 legs, and an address at 32 legs being set up
 * and 256 connections, which is what an operator wants and not what a figure measures).
 */
function relayConfig(dir: string): string {
  const file = join(dir, 'relay.json');
  writeFileSync(
    file,
    JSON.stringify({
      relay: {
        enabled: true,
        max_legs: 100_000,
        max_legs_per_identity: 10_000,
        max_handshakes_per_address: 10_000,
        bytes_per_second_per_identity: 100 * 1024 * 1024 * 1024,
      },
      // Both ends connect from 127.0.0.1 here; per-address limits are for separate machines.
      rate_limit: { loopback: false },
    }),
  );
  return file;
}

/** Runs the measurements with a fresh relay and fresh ends. */
export async function measureTunnel(options: {
  bulkBytes: number;
  runs: number;
  echoRounds: number;
  idleTunnels: number;
  log: (line: string) => void;
  /** The two ends' device secrets (throwaway keys, on their command lines). */
  secrets?: readonly [string, string];
}): Promise<TunnelFigures> {
  const [exposerSecret, connectorSecret] = options.secrets ?? [
    randomBytes(64).toString('hex'),
    randomBytes(64).toString('hex'),
  ];
  const dir = mkdtempSync(join(process.env.P2PCLOUD_BENCH_DIR ?? tmpdir(), 'p2pcloud-tunnel-'));
  const node = await startBenchNode(['--config', relayConfig(dir)], join(dir, 'relay'));
  const exposer = new CommandChild(END, [exposerSecret], 'tunnel exposer');
  const connector = new CommandChild(END, [connectorSecret], 'tunnel connector');
  try {
    const served = await exposer.call({ op: 'serve', relay: node.url }, 60_000);
    const ports = served.ports as Ports;
    const peer = served.device as string;
    const timeout = 120_000 + options.bulkBytes / 1000;
    const bulk = async (mode: 'tunnel' | 'raw', relay: string | undefined): Promise<number> => {
      const result = await connector.call(
        { op: 'bulk', mode, port: ports[mode], relay, peer, bytes: options.bulkBytes },
        timeout,
      );
      return result.mbPerS as number;
    };
    const best = { tunnel: 0, raw: 0, directTunnel: 0 };
    for (let run = 0; run < options.runs; run++) {
      best.raw = Math.max(best.raw, await bulk('raw', node.url));
      best.tunnel = Math.max(best.tunnel, await bulk('tunnel', node.url));
      best.directTunnel = Math.max(best.directTunnel, await bulk('tunnel', undefined));
      options.log(
        `tunnel: bulk run ${run + 1}/${options.runs}: ${best.tunnel.toFixed(0)} MB/s, ` +
          `raw ${best.raw.toFixed(0)} MB/s`,
      );
    }

    const echo = async (mode: 'tunnel' | 'raw', relay: string | undefined): Promise<Latency> => {
      const result = await connector.call(
        {
          op: 'echo',
          mode,
          port: ports[mode],
          relay,
          peer,
          rounds: options.echoRounds,
          size: 64,
          warmup: 200,
        },
        120_000,
      );
      return { p50: result.p50 as number, p99: result.p99 as number };
    };
    const latency = {
      direct: await echo('raw', undefined),
      raw: await echo('raw', node.url),
      tunnel: await echo('tunnel', node.url),
    };
    options.log('tunnel: echo done');

    const before = rss(node.pid);
    const opened = await connector.call(
      {
        op: 'idle',
        mode: 'tunnel',
        port: ports.tunnel,
        relay: node.url,
        peer,
        count: options.idleTunnels,
        batch: 50,
      },
      300_000,
    );
    if (opened.opened !== options.idleTunnels) {
      throw new Error(`opened ${String(opened.opened)} idle tunnels, not ${options.idleTunnels}`);
    }
    // Let the relay's buffers settle and its garbage be collected as it would be when idle.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = rss(node.pid);
    await connector.call({ op: 'release' }, 120_000);
    options.log('tunnel: idle tunnels done');
    return {
      bulk: { ...best, ratio: best.tunnel / best.raw },
      echo: latency,
      idle: { count: options.idleTunnels, before, after },
    };
  } finally {
    await Promise.all([exposer.stop(), connector.stop()]);
    await node.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function tunnelFigures(
  report: Report,
  options: {
    quick: boolean;
    log: (line: string) => void;
    /** Smaller sizes than --quick's, for the smoke test. */
    bulkBytes?: number;
    echoRounds?: number;
    idleTunnels?: number;
    secrets?: readonly [string, string];
  },
): Promise<void> {
  const section = 'tunnel';
  const f = await measureTunnel({
    bulkBytes: options.bulkBytes ?? (options.quick ? 256 : 2048) * MIB,
    runs: options.quick ? 1 : 3,
    echoRounds: options.echoRounds ?? (options.quick ? 1000 : 5000),
    idleTunnels: options.idleTunnels ?? 1000,
    log: options.log,
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  report.add({
    section,
    figure: 'one bulk stream through a relay node, secure channel',
    value: f.bulk.tunnel,
    unit: 'MB/s',
    goal: '≥ 200',
    met: f.bulk.tunnel >= 200,
    ratio: {
      value: f.bulk.ratio,
      to: `of a plain TCP copy through the same relay (${f.bulk.raw.toFixed(0)} MB/s; goal ≥ 0.5)`,
    },
  });
  report.add({
    section,
    figure: 'one bulk stream, secure channel on direct loopback TCP',
    value: f.bulk.directTunnel,
    unit: 'MB/s',
  });
  const us = (ms: number): number => ms * 1000;
  report.add({
    section,
    figure: '64-byte echo through the relay and the channel, p50',
    value: us(f.echo.tunnel.p50),
    unit: 'µs',
  });
  report.add({
    section,
    figure: '64-byte echo through the relay and the channel, p99',
    value: us(f.echo.tunnel.p99),
    unit: 'µs',
  });
  report.add({
    section,
    figure: 'round trip the channel adds to the raw relay path, p50',
    value: us(f.echo.tunnel.p50 - f.echo.raw.p50),
    unit: 'µs',
  });
  const added = f.echo.tunnel.p50 - f.echo.direct.p50;
  report.add({
    section,
    figure: 'round trip relay and channel add to direct loopback TCP, p50',
    value: us(added),
    unit: 'µs',
    goal: '≤ 1,000',
    met: added <= 1,
  });
  const idleBytes = f.idle.after - f.idle.before;
  report.add({
    section,
    figure: `${f.idle.count.toLocaleString('en-US')} idle tunnels: relay RSS added`,
    value: idleBytes / MIB,
    unit: 'MiB',
    goal: '≤ 100',
    met: idleBytes <= 100 * MIB,
  });
  report.note(
    `tunnel: echo p50/p99 raw through the relay ${us(f.echo.raw.p50).toFixed(0)}/` +
      `${us(f.echo.raw.p99).toFixed(0)} µs, direct loopback TCP ${us(f.echo.direct.p50).toFixed(0)}/` +
      `${us(f.echo.direct.p99).toFixed(0)} µs; relay RSS ${(f.idle.before / MIB).toFixed(0)} MiB ` +
      `before the idle tunnels, ${(f.idle.after / MIB).toFixed(0)} MiB with them; MB = 10^6 bytes`,
  );
}
