/**
 * Runs the `p2pcloud` command as a child process: a command to completion (runCli), or a
 * server until the line that says it listens (spawnCli).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { cliPath } from './paths.js';

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The non-empty lines of stdout. */
  readonly lines: string[];
}

export interface RunOptions {
  readonly stdin?: string;
  /** Added to the environment (cliEnvironment). */
  readonly env?: Record<string, string>;
  readonly cwd?: string;
  /** Killed after this long (default 60 s). */
  readonly timeoutMs?: number;
}

/**
 * The environment a command runs with: no colours, `extra` added, and P2PCLOUD_API_KEY_FILE
 * left out unless `extra` names one (a key file of the test run's own must not reach it).
 */
export function cliEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', ...extra };
  if (!extra.P2PCLOUD_API_KEY_FILE) delete env.P2PCLOUD_API_KEY_FILE;
  return env;
}

/** Runs `p2pcloud ARGS` to completion, optionally feeding stdin (a string, or in the options). */
export function runCli(args: readonly string[], input?: string | RunOptions): Promise<CliResult> {
  const options: RunOptions = typeof input === 'string' ? { stdin: input } : (input ?? {});
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: cliEnvironment(options.env),
      ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, lines: stdout.split('\n').filter((l) => l !== '') });
    });
    child.stdin.end(options.stdin ?? '');
  });
}

export interface CliProcess {
  /** The match of `ready` on the first stdout line it matched. */
  readonly ready: RegExpExecArray;
  readonly child: ChildProcess;
  /** Everything the process wrote to stderr so far (its JSON log lines). */
  stderr(): string;
  /** SIGTERM and wait for a clean exit. */
  stop(): Promise<number | null>;
  /** SIGKILL: the process gets no chance to clean up. */
  kill9(): Promise<void>;
}

/**
 * Starts `p2pcloud ARGS` and waits for the stdout line matching `ready`; the process is killed
 * when the test file ends if the test did not stop it.
 */
export async function spawnCli(
  args: readonly string[],
  ready: RegExp,
  what: string,
): Promise<CliProcess> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${what} did not start in time:\n${stderr}`)),
      30_000,
    );
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const found = ready.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code} before listening:\n${stderr}`));
    });
  });
  const running = (): boolean => child.exitCode === null && child.signalCode === null;
  const handle: CliProcess = {
    ready: match,
    child,
    stderr: () => stderr,
    stop: async () => {
      if (running()) child.kill('SIGTERM');
      return exited;
    },
    kill9: async () => {
      if (running()) child.kill('SIGKILL');
      await exited;
    },
  };
  after(() => handle.kill9());
  return handle;
}
