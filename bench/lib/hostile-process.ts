/**
 * The hostile peer (tools/hostile-peer.ts) as a process of its own, so that the work of lying
 * (listing hundreds of thousands of ids, making junk entries) competes with the victim for the
 * machine as a remote attacker's would not, but never with the measuring process's event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const TOOL = fileURLToPath(new URL('../../tools/hostile-peer.js', import.meta.url));

export interface HostileProcess {
  readonly url: string;
  readonly mode: string;
  readonly pid: number;
  /** Stops the peer; answers its request counts, by "METHOD /path", and its own counters. */
  stop(): Promise<Record<string, unknown>>;
}

export async function startHostileProcess(
  mode: string,
  args: readonly string[] = [],
): Promise<HostileProcess> {
  const child: ChildProcess = spawn(process.execPath, [TOOL, '--mode', mode, ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  let stats: Record<string, unknown> = {};
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hostile peer did not start')), 30_000);
    lines.on('line', (line) => {
      const match = /listening on (http:\/\/\S+)/.exec(line);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      } else if (line.startsWith('{')) {
        try {
          stats = JSON.parse(line) as Record<string, unknown>;
        } catch {
          // not the final counts
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`hostile peer exited with ${code}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url,
    mode,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      return stats;
    },
  };
}
