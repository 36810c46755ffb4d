/**
 * Tunnel figures (docs/performance.md, "Tunnels"): the two ends of a tunnel as child processes
 * of their own, measured with the secure channel and, over the same path in the same run,
 * without it (the raw bytes), so the ratio shows what the channel costs.
 *
 * (a) one bulk stream: MB/s with the channel and as a plain TCP copy, and their ratio;
 * (b) the round-trip time of a small echo: p50 and p99 with the channel, raw, and what the
 *     channel adds.
 */
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { CommandChild } from './lib/command-child.js';
import type { Report } from './lib/report.js';

const END = fileURLToPath(new URL('./lib/tunnel-end.js', import.meta.url));

interface Ports {
  readonly tunnel: number;
  readonly raw: number;
}

export interface TunnelFigures {
  readonly bulk: { tunnel: number; raw: number; ratio: number };
  readonly echo: { tunnel: { p50: number; p99: number }; raw: { p50: number; p99: number } };
}

/** Runs the measurements with fresh ends; the best of `runs` bulk transfers each way. */
export async function measureTunnel(options: {
  bulkBytes: number;
  runs: number;
  echoRounds: number;
  log: (line: string) => void;
  /** The two ends' device secrets (throwaway keys, on their command lines). */
  secrets?: readonly [string, string];
}): Promise<TunnelFigures> {
  const [exposerSecret, connectorSecret] = options.secrets ?? [
    randomBytes(64).toString('hex'),
    randomBytes(64).toString('hex'),
  ];
  const exposer = new CommandChild(END, [exposerSecret], 'tunnel exposer');
  const connector = new CommandChild(END, [connectorSecret], 'tunnel connector');
  try {
    const served = await exposer.call({ op: 'serve' }, 30_000);
    const ports = served.ports as Ports;
    const peer = served.device as string;
    const timeout = 120_000 + options.bulkBytes / 1000;
    const best = { tunnel: 0, raw: 0 };
    for (let run = 0; run < options.runs; run++) {
      for (const mode of ['raw', 'tunnel'] as const) {
        const result = await connector.call(
          { op: 'bulk', mode, port: ports[mode], peer, bytes: options.bulkBytes },
          timeout,
        );
        best[mode] = Math.max(best[mode], result.mbPerS as number);
      }
      options.log(`tunnel: bulk run ${run + 1}/${options.runs}: ${best.tunnel.toFixed(0)} MB/s`);
    }
    const echo = {} as TunnelFigures['echo'];
    for (const mode of ['raw', 'tunnel'] as const) {
      const result = await connector.call(
        {
          op: 'echo',
          mode,
          port: ports[mode],
          peer,
          rounds: options.echoRounds,
          size: 64,
          warmup: 200,
        },
        120_000,
      );
      echo[mode] = { p50: result.p50 as number, p99: result.p99 as number };
    }
    return { bulk: { ...best, ratio: best.tunnel / best.raw }, echo };
  } finally {
    await Promise.all([exposer.stop(), connector.stop()]);
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
    secrets?: readonly [string, string];
  },
): Promise<void> {
  const section = 'tunnel';
  const figures = await measureTunnel({
    bulkBytes: options.bulkBytes ?? (options.quick ? 256 : 2048) * 1024 * 1024,
    runs: options.quick ? 1 : 3,
    echoRounds: options.echoRounds ?? (options.quick ? 1000 : 5000),
    log: options.log,
    ...(options.secrets ? { secrets: options.secrets } : {}),
  });
  report.add({
    section,
    figure: 'one bulk stream through the secure channel',
    value: figures.bulk.tunnel,
    unit: 'MB/s',
    goal: '≥ 200',
    met: figures.bulk.tunnel >= 200,
    ratio: {
      value: figures.bulk.ratio,
      to: `of a plain TCP copy on the same path (${figures.bulk.raw.toFixed(0)} MB/s; goal ≥ 0.5)`,
    },
  });
  const added = figures.echo.tunnel.p50 - figures.echo.raw.p50;
  report.add({
    section,
    figure: '64-byte echo round trip through the channel, p50',
    value: figures.echo.tunnel.p50 * 1000,
    unit: 'µs',
  });
  report.add({
    section,
    figure: '64-byte echo round trip through the channel, p99',
    value: figures.echo.tunnel.p99 * 1000,
    unit: 'µs',
  });
  report.add({
    section,
    figure: 'round trip the channel adds to the raw path, p50',
    value: added * 1000,
    unit: 'µs',
    goal: '≤ 1,000',
    met: added <= 1,
  });
  report.note(
    `tunnel: raw echo on the same path p50 ${(figures.echo.raw.p50 * 1000).toFixed(0)} µs, ` +
      `p99 ${(figures.echo.raw.p99 * 1000).toFixed(0)} µs; MB = 10^6 bytes`,
  );
}
