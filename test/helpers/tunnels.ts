/**
 * Tunnel tests across processes: a TCP proxy in front of the relay node that looks for
 * plaintext markers in everything it forwards (without keeping the bytes), the `p2pcloud
 * tunnel` commands as child processes whose every output line is kept, and the services a
 * tunnel carries (an HTTP server with deterministic pages, a bulk stream, a held connection).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  createServer as createHttpServer,
  request as httpRequest,
  type Server as HttpServer,
} from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after } from 'node:test';
import { cliPath } from './paths.js';
import { cliEnvironment } from './spawn.js';
import { tempDir } from './tmp.js';

export interface ScanningProxy {
  readonly url: string;
  readonly port: number;
  /** Bytes forwarded, both ways together. */
  bytes(): number;
  /** How often each marker was seen in the forwarded bytes (either way; 0 means never). */
  seen(marker: string): number;
  close(): Promise<void>;
}

/** A TCP proxy from a port of its own (or `port`) to `target` that counts marker occurrences. */
export async function startScanningProxy(
  target: { host: string; port: number },
  markers: readonly string[],
  port = 0,
): Promise<ScanningProxy> {
  let total = 0;
  const counts = new Map(markers.map((m) => [m, 0]));
  const longest = Math.max(...markers.map((m) => Buffer.byteLength(m)));
  const sockets = new Set<Socket>();
  const scanner = () => {
    let tail = Buffer.alloc(0);
    return (chunk: Buffer) => {
      total += chunk.length;
      const window = Buffer.concat([tail, chunk]);
      for (const marker of markers) {
        const needle = Buffer.from(marker);
        // A marker shorter than the longest may be counted twice across chunks: tests ask zero or not.
        for (let at = window.indexOf(needle); at >= 0; at = window.indexOf(needle, at + 1)) {
          counts.set(marker, counts.get(marker)! + 1);
        }
      }
      tail = window.subarray(Math.max(0, window.length - (longest - 1)));
    };
  };
  const server: Server = createServer({ allowHalfOpen: true }, (inbound) => {
    const outbound = connect({ ...target, allowHalfOpen: true });
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        inbound.destroy();
        outbound.destroy();
      });
    }
    inbound.on('data', scanner());
    outbound.on('data', scanner());
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  const handle: ScanningProxy = {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    bytes: () => total,
    seen: (marker) => counts.get(marker) ?? 0,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  after(() => handle.close());
  return handle;
}

export interface TunnelCli {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  readonly ready: RegExpExecArray;
  stderr(): string;
  /** Resolves with the first line (from now or earlier) matching `pattern`. */
  line(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** SIGINT (Ctrl-C) and the exit code. */
  interrupt(): Promise<number | null>;
}

/** Processes that live until the test file ends, whichever test started them. */
const lingering = new Set<ChildProcess>();
after(() => {
  for (const child of lingering)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

/**
 * Starts `p2pcloud ARGS` and waits for its stdout line matching `ready`. It is killed when the
 * test that started it ends, or with `untilFileEnds` when the test file ends.
 */
export async function startTunnelCli(
  args: readonly string[],
  ready: RegExp,
  options: { untilFileEnds?: boolean } = {},
): Promise<TunnelCli> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cliEnvironment(),
  });
  if (options.untilFileEnds) lingering.add(child);
  else {
    after(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
  }
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.pattern.test(line))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  const line = (pattern: RegExp, timeoutMs = 30_000): Promise<string> => {
    const found = lines.find((l) => pattern.test(l));
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new Error(
            `no line matching ${pattern} within ${timeoutMs} ms:\n${lines.join('\n')}\n${stderr}`,
          ),
        );
      }, timeoutMs);
      const waiter = {
        pattern,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      waiters.push(waiter);
      void exited.then((code) => {
        if (!waiters.includes(waiter)) return;
        clearTimeout(timer);
        reject(
          new Error(
            `exited with ${code} before a line matching ${pattern}:\n${lines.join('\n')}\n${stderr}`,
          ),
        );
      });
    });
  };
  const first = await line(ready);
  return {
    child,
    lines,
    ready: ready.exec(first)!,
    stderr: () => stderr,
    line,
    interrupt: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      return exited;
    },
  };
}

/** The bytes of page `n` of the test site: 1 KiB to 256 KiB, the same on every call. */
export function pageBytes(n: number): Buffer {
  const size = 1024 + ((n * 7919) % 256) * 1024;
  const out = Buffer.alloc(size);
  let block = createHash('sha256').update(`page ${n}`).digest();
  for (let at = 0; at < size; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * The service behind the tunnel: GET /page/N answers pageBytes(N); POST /echo answers the
 * body; GET /hold sends one line and keeps the response open until the client goes.
 */
export async function startSite(): Promise<{ port: number; server: HttpServer }> {
  const server = createHttpServer((req, res) => {
    const page = /^\/page\/(\d+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && page) {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(pageBytes(Number(page[1])));
      return;
    }
    if (req.method === 'POST' && req.url === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    if (req.method === 'GET' && req.url === '/hold') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('held\n');
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { port: (server.address() as { port: number }).port, server };
}

/** One HTTP request to 127.0.0.1:port on a connection of its own: status and body. */
export function fetchThrough(
  port: number,
  path: string,
  body?: Buffer,
  timeoutMs = 30_000,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: body ? 'POST' : 'GET',
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () =>
      req.destroy(new Error(`no answer through port ${port} in ${timeoutMs} ms`)),
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Opens GET /hold through the tunnel: resolves with the socket once the first line arrived. */
export async function holdThrough(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  // A refused connection is reset: that is an answer here, not a failure of the test process.
  let failure: Error | undefined;
  socket.on('error', (error) => (failure = error));
  await once(socket, 'connect');
  socket.write('GET /hold HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n');
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (seen.includes('held\n')) {
        socket.off('data', onData);
        resolve();
      }
    };
    socket.on('data', onData);
    socket.once('close', () =>
      reject(
        new Error(`closed before the held line: ${seen}${failure ? ` (${failure.message})` : ''}`),
      ),
    );
  });
  return socket;
}

/**
 * A node config file that turns relaying on, with caps that a test's bursts stay under (every
 * leg comes from 127.0.0.1, and a device's many connections are one identity's legs).
 */
export function relayConfigFile(): string {
  const path = join(tempDir(), 'relay-node.json');
  writeFileSync(
    path,
    JSON.stringify({
      // Every device of a test connects from 127.0.0.1, which real devices do not share.
      rate_limit: { loopback: false },
      relay: {
        enabled: true,
        max_legs: 8192,
        max_legs_per_identity: 1024,
        max_handshakes_per_address: 512,
        bytes_per_second_per_identity: 8 * 1024 * 1024 * 1024,
      },
    }),
  );
  return path;
}

/**
 * `p2pcloud node` flags for a relaying node in a tunnel test: no proof of work, no periodic
 * sync to get in the way, and the caps of relayConfigFile().
 */
export function relayNodeFlags(): string[] {
  return ['--min-pow', '0', '--sync-interval', '3600', '--config', relayConfigFile()];
}
