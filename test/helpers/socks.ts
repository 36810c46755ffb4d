/**
 * Real SOCKS5 proxies for tests, and a counting TCP hop that shows who connected.
 *
 * The proxy is Debian's microsocks on a free 127.0.0.1 port. Its outgoing connections leave
 * from 127.0.0.2 (-b), so whatever they reach can tell a connection made by the proxy from a
 * direct one (127.0.0.1). It runs in a mount namespace of its own where /etc/hosts also names
 * PROXY_ONLY_NAME, a host name only the proxy can resolve: a process that reaches it has let the
 * proxy resolve it (socks5h), since its own resolver knows no such name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { freePort, waitFor } from './http.js';
import { tempDir } from './tmp.js';
import { cliPath } from './paths.js';

export const MICROSOCKS = process.env.P2PCLOUD_MICROSOCKS ?? '/usr/bin/microsocks';
/** Where the proxy's connections come from. */
export const PROXY_SOURCE = '127.0.0.2';
/** Resolves to 127.0.0.1 for the proxy, and to nothing for anyone else on this machine. */
export const PROXY_ONLY_NAME = 'p2pcloud-behind-proxy.test';

export interface Socks5Proxy {
  /** socks5h://127.0.0.1:PORT */
  readonly url: string;
  readonly port: number;
  /** "HOST:PORT" of every connection the proxy made, as its log tells them, oldest first. */
  readonly connected: string[];
  stop(): Promise<void>;
}

/** Whether `unshare -rm` can give the proxy its own /etc/hosts on this machine. */
function canUnshare(): boolean {
  const probe = spawnSync('unshare', ['-rm', 'true'], { stdio: 'ignore', timeout: 5000 });
  return probe.status === 0;
}

/** A hosts file: this machine's, plus PROXY_ONLY_NAME. */
function proxyHostsFile(): string {
  const path = join(tempDir('p2pcloud-socks-'), 'hosts');
  writeFileSync(path, `${readFileSync('/etc/hosts', 'utf8')}\n127.0.0.1 ${PROXY_ONLY_NAME}\n`);
  return path;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Starts microsocks on `port` (a free one by default). Fails the test if the proxy cannot be
 * given its own hosts file: the tests that use PROXY_ONLY_NAME depend on it.
 */
export async function startMicrosocks(port?: number): Promise<Socks5Proxy> {
  const listen = port ?? (await freePort());
  if (!canUnshare()) {
    throw new Error('unshare -rm is not permitted here: the proxy cannot get its own /etc/hosts');
  }
  const hosts = proxyHostsFile();
  const child: ChildProcess = spawn(
    'unshare',
    [
      '-rm',
      'sh',
      '-c',
      'mount --bind "$0" /etc/hosts && exec "$1" -i 127.0.0.1 -p "$2" -b "$3"',
      hosts,
      MICROSOCKS,
      String(listen),
      PROXY_SOURCE,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const connected: string[] = [];
  let errors = '';
  // microsocks logs to stderr, a line per connection it made.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    const found = /connected to (\S+)$/.exec(line);
    if (found) connected.push(found[1]!);
    else errors += `${line}\n`;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (!(await waitFor(() => portOpen(listen), 10_000, 50))) {
    child.kill('SIGKILL');
    throw new Error(`microsocks did not listen on ${listen}: ${errors}`);
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  };
  after(stop);
  return { url: `socks5h://127.0.0.1:${listen}`, port: listen, connected, stop };
}

export interface CountingHop {
  /** 127.0.0.1:PORT, where the hop listens. */
  readonly port: number;
  /** The remote address of every connection the hop accepted, oldest first. */
  readonly sources: string[];
  close(): Promise<void>;
}

/** A TCP forwarder on 127.0.0.1 in front of `targetPort` that records who connects to it. */
export async function startCountingHop(targetPort: number): Promise<CountingHop> {
  const sources: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    sources.push(client.remoteAddress ?? '?');
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  after(async () => {
    if (server.listening) await close();
  });
  return { port, sources, close };
}

export interface WatchedProcess {
  /** The match of `ready` on the line that said the process is ready. */
  readonly ready: RegExpExecArray;
  /** Names the process asked its resolver for, in order. */
  lookups(): string[];
  /** HOST:PORT of every TCP connection the process opened, in order. */
  connects(): string[];
  stop(): Promise<void>;
}

/** Where net-watch.js writes, and the arguments that load it into a process. */
function watchedCommand(args: readonly string[]): { log: string; argv: string[] } {
  const log = join(tempDir('p2pcloud-watch-'), 'net.log');
  writeFileSync(log, '');
  const watch = join(dirname(fileURLToPath(import.meta.url)), 'net-watch.js');
  return { log, argv: ['--import', pathToFileURL(watch).href, cliPath, ...args] };
}

function watchedEnv(log: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', P2PCLOUD_NET_WATCH: log };
  delete env.P2PCLOUD_API_KEY_FILE;
  return env;
}

function watchLines(log: string, kind: string): string[] {
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith(`${kind} `))
    .map((line) => line.slice(kind.length + 1));
}

/**
 * Runs `p2pcloud ARGS` with net-watch.js loaded, until the stdout line matching `ready`: the
 * test then knows every name the process resolved and every connection it opened.
 */
export async function spawnWatched(
  args: readonly string[],
  ready: RegExp,
  what: string,
): Promise<WatchedProcess> {
  const { log, argv } = watchedCommand(args);
  const child = spawn(process.execPath, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: watchedEnv(log),
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${stderr}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const found = ready.exec(line);
      if (found) {
        clearTimeout(timer);
        resolve(found);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${what} exited before it was ready:\n${stderr}`));
    });
  });
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  after(stop);
  return {
    ready: match,
    lookups: () => watchLines(log, 'lookup'),
    connects: () => watchLines(log, 'connect'),
    stop,
  };
}

export interface WatchedRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly lookups: string[];
  readonly connects: string[];
}

/** Runs `p2pcloud ARGS` to completion (at most 60 s) with net-watch.js loaded. */
export function runWatched(args: readonly string[]): Promise<WatchedRun> {
  const { log, argv } = watchedCommand(args);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: watchedEnv(log),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({
        code,
        stdout,
        stderr,
        lookups: watchLines(log, 'lookup'),
        connects: watchLines(log, 'connect'),
      });
    });
  });
}
