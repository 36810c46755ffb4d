/**
 * STAND-IN (endpoints branch only, replaced by the relay client when it lands): the
 * contract's signatures over a registry of files in the temp directory and plain TCP, so the
 * endpoints can run on one machine before the relay exists. It relays nothing through a node.
 */
import { EventEmitter } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { P2PError } from '../../errors.js';
import { identityText, type Identity } from '../../keys/keys.js';
import type { Connector } from '../http.js';

export interface RelayListener extends EventEmitter {
  close(): void;
}

function dir(relay: string, service: Uint8Array): string {
  return join(
    tmpdir(),
    'p2pcloud-standin-relay',
    encodeURIComponent(relay),
    Buffer.from(service).toString('hex'),
  );
}

export function listenOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  direct?: readonly string[];
  connector?: Connector;
}): RelayListener {
  const listener = new EventEmitter() as RelayListener;
  const me = identityText(options.self);
  const path = join(dir(options.relay, options.service), `${me.slice(0, 40)}.json`);
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf(10);
      if (end < 0) return;
      socket.off('data', onData);
      socket.pause();
      const from = buffered.subarray(0, end).toString();
      const rest = buffered.subarray(end + 1);
      if (rest.length > 0) socket.unshift(rest);
      listener.emit('leg', socket, { from });
    };
    socket.on('data', onData);
  });
  server.listen(0, '127.0.0.1', () => {
    mkdirSync(dir(options.relay, options.service), { recursive: true });
    const port = (server.address() as { port: number }).port;
    writeFileSync(path, JSON.stringify({ device: me, port, direct: options.direct ?? [] }));
    listener.emit('registered');
  });
  listener.close = () => {
    rmSync(path, { force: true });
    server.close();
  };
  return listener;
}

export function findOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  connector?: Connector;
}): Promise<{ device: string; direct: string[] }[]> {
  let names: string[] = [];
  try {
    names = readdirSync(dir(options.relay, options.service));
  } catch {
    names = [];
  }
  return Promise.resolve(
    names.map((name) => {
      const held = JSON.parse(
        readFileSync(join(dir(options.relay, options.service), name), 'utf8'),
      ) as {
        device: string;
        direct: string[];
      };
      return { device: held.device, direct: held.direct };
    }),
  );
}

export function dialOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  device: string;
  connector?: Connector;
  timeoutMs?: number;
  signal?: AbortSignal;
}): Promise<Duplex> {
  const path = join(dir(options.relay, options.service), `${options.device.slice(0, 40)}.json`);
  let port: number;
  try {
    port = (JSON.parse(readFileSync(path, 'utf8')) as { port: number }).port;
  } catch {
    return Promise.reject(new P2PError('tunnel_unreachable', 'not registered'));
  }
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    socket.once('connect', () => {
      socket.write(`${identityText(options.self)}\n`);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
