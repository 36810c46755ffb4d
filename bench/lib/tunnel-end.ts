/**
 * One end of a benchmark tunnel, in a child process of its own (driven by CommandChild):
 *
 *   node tunnel-end.js SECRET_HEX     SECRET_HEX = signing seed || box secret of this device
 *
 * Commands: `serve` (the exposing end: accept legs on a path and answer each as a sink, an
 * echo or an idle tunnel), `bulk`, `echo`, `idle` and `release` (the connecting end). A leg is
 * a raw byte stream: a direct TCP connection on 127.0.0.1, or a leg through a relay node
 * (src/client/relay); `mode` says whether the secure channel runs over it ("tunnel") or the
 * bytes go as they are ("raw"), so both are measured over the same path in the same run. The first byte a connecting end sends says what it
 * wants: B (bulk: count everything, answer the count as u64 once the stream ends), E (echo
 * everything back), I (idle: hold the stream open).
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { identityText, type Identity } from '../../src/keys/keys.js';
import { dialOnRelay, listenOnRelay, type RelayListener } from '../../src/client/relay/index.js';
import { openInitiator, openResponder } from '../../src/tunnel/index.js';
import { percentiles } from './latency.js';
import { serveCommands, type Answer } from './command-child.js';

type Mode = 'tunnel' | 'raw';

const secret = Buffer.from(process.argv[2] ?? '', 'hex');
if (secret.length !== 64) throw new Error('tunnel-end: give the 64-byte device secret in hex');
const self: Identity = {
  signing: signingKeyPairFromSeed(secret.subarray(0, 32)),
  box: boxKeyPairFromSecret(secret.subarray(32)),
};

const servers: net.Server[] = [];
const listeners: RelayListener[] = [];
const open = new Set<Duplex>();
let idle: Duplex[] = [];

function track(stream: Duplex): Duplex {
  open.add(stream);
  stream.on('error', () => undefined);
  stream.once('close', () => open.delete(stream));
  return stream;
}

/** The exposing end's answer to one stream, chosen by its first byte. */
function answer(stream: Duplex): void {
  stream.once('data', (first: Buffer) => {
    const op = String.fromCharCode(first[0]!);
    const rest = first.subarray(1);
    if (op === 'B') {
      let count = rest.length;
      stream.on('data', (chunk: Buffer) => {
        count += chunk.length;
      });
      stream.once('end', () => {
        const total = Buffer.alloc(8);
        total.writeBigUInt64BE(BigInt(count));
        stream.end(total);
      });
    } else if (op === 'E') {
      if (rest.length > 0) stream.write(rest);
      stream.on('data', (chunk: Buffer) => stream.write(chunk));
      stream.once('end', () => stream.end());
    } else {
      stream.resume();
      stream.once('end', () => stream.end());
    }
  });
}

/** The relay service id of a mode: 32 bytes, opaque to the relay. */
function serviceOf(mode: Mode): Buffer {
  return createHash('sha256').update(`p2pcloud bench tunnel ${mode}`).digest();
}

/** The legs of one mode, from both paths, get the same answer. */
function onLeg(mode: Mode, leg: Duplex): void {
  track(leg);
  if (leg instanceof net.Socket) leg.setNoDelay(true);
  if (mode === 'raw') return answer(leg);
  openResponder(leg, { self, authorize: () => undefined }).then(
    (stream) => answer(track(stream)),
    () => leg.destroy(),
  );
}

/** Accepts legs directly on two ports and, given a relay, on two services there. */
async function serve(options: { relay?: string }): Promise<Answer> {
  const ports: Record<Mode, number> = { tunnel: 0, raw: 0 };
  for (const mode of ['tunnel', 'raw'] as const) {
    const server = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) =>
      onLeg(mode, socket),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    servers.push(server);
    ports[mode] = (server.address() as net.AddressInfo).port;
    if (options.relay) {
      const listener = listenOnRelay({ relay: options.relay, self, service: serviceOf(mode) });
      listeners.push(listener);
      listener.on('leg', (leg: Duplex) => onLeg(mode, leg));
      await once(listener, 'registered');
    }
  }
  return { ports, device: identityText(self) };
}

interface Dial {
  readonly mode: Mode;
  /** The exposing end's port for this mode, for a direct leg. */
  readonly port: number;
  /** A relay's URL: the leg goes through it instead. */
  readonly relay?: string;
  readonly peer: string;
  readonly pad?: boolean;
}

async function leg(options: Dial): Promise<Duplex> {
  if (options.relay) {
    const relayed = await dialOnRelay({
      relay: options.relay,
      self,
      service: serviceOf(options.mode),
      device: options.peer,
    });
    if (relayed instanceof net.Socket) relayed.setNoDelay(true);
    return track(relayed);
  }
  const socket = net.connect({ port: options.port, host: '127.0.0.1', allowHalfOpen: true });
  socket.setNoDelay(true);
  track(socket);
  await once(socket, 'connect');
  return socket;
}

async function dial(options: Dial): Promise<Duplex> {
  const socket = await leg(options);
  if (options.mode === 'raw') return socket;
  const stream = await openInitiator(socket, {
    self,
    responder: options.peer,
    service: 'bench',
    pad: options.pad ?? false,
  });
  return track(stream);
}

function readAll(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    stream.once('end', () => resolve(Buffer.concat(chunks)));
    stream.once('error', reject);
  });
}

/** Sends `bytes` bytes (after the B) and waits for the count: MB/s of the whole transfer. */
async function bulk(options: Dial & { bytes: number }): Promise<Answer> {
  const stream = await dial(options);
  const chunk = Buffer.alloc(1 << 20, 0x5a);
  const started = performance.now();
  const answered = readAll(stream);
  stream.write('B');
  for (let sent = 0; sent < options.bytes; sent += chunk.length) {
    const part = Math.min(chunk.length, options.bytes - sent);
    if (!stream.write(part === chunk.length ? chunk : chunk.subarray(0, part))) {
      await once(stream, 'drain');
    }
  }
  stream.end();
  const count = await answered;
  const ms = performance.now() - started;
  if (count.length !== 8 || Number(count.readBigUInt64BE(0)) !== options.bytes) {
    throw new Error(`the sink counted ${count.toString('hex')} bytes, not ${options.bytes}`);
  }
  return { ms, mbPerS: options.bytes / 1e6 / (ms / 1000) };
}

/** `rounds` round trips of `size` bytes after `warmup` unmeasured ones: percentiles in ms. */
async function echo(
  options: Dial & { rounds: number; size: number; warmup: number },
): Promise<Answer> {
  const stream = await dial(options);
  stream.write('E');
  const message = Buffer.alloc(options.size, 0x65);
  const samples: number[] = [];
  let waiting: (() => void) | undefined;
  let got = 0;
  stream.on('data', (chunk: Buffer) => {
    got += chunk.length;
    if (got >= options.size && waiting) {
      got -= options.size;
      const done = waiting;
      waiting = undefined;
      done();
    }
  });
  for (let round = 0; round < options.warmup + options.rounds; round++) {
    const started = performance.now();
    await new Promise<void>((resolve) => {
      waiting = resolve;
      stream.write(message);
    });
    if (round >= options.warmup) samples.push(performance.now() - started);
  }
  stream.end();
  return { ...percentiles(samples) };
}

/** Opens `count` idle tunnels, `batch` at a time, and keeps them until `release`. */
async function openIdle(options: Dial & { count: number; batch: number }): Promise<Answer> {
  for (let opened = 0; opened < options.count; opened += options.batch) {
    const streams = await Promise.all(
      Array.from({ length: Math.min(options.batch, options.count - opened) }, () => dial(options)),
    );
    for (const stream of streams) stream.write('I');
    idle.push(...streams);
  }
  return { opened: idle.length };
}

/** Ends the idle tunnels and waits until each has closed (or failed). */
async function release(): Promise<Answer> {
  const closing = idle.map(async (stream) => {
    stream.end();
    stream.resume();
    if (!stream.closed) await once(stream, 'close').catch(() => undefined);
  });
  const count = idle.length;
  idle = [];
  await Promise.all(closing);
  return { released: count };
}

await serveCommands(
  async (command) => {
    const options = command as unknown as Dial;
    switch (command.op) {
      case 'serve':
        return serve(command as { relay?: string });
      case 'bulk':
        return bulk(options as unknown as Dial & { bytes: number });
      case 'echo':
        return echo(options as unknown as Dial & { rounds: number; size: number; warmup: number });
      case 'idle':
        return openIdle(options as unknown as Dial & { count: number; batch: number });
      case 'release':
        return release();
      default:
        throw new Error(`unknown command ${String(command.op)}`);
    }
  },
  async () => {
    for (const listener of listeners) listener.close();
    for (const stream of open) stream.destroy();
    for (const server of servers) server.close();
  },
);
