/**
 * STAND-IN (endpoints branch only, replaced by the relay client when it lands): the
 * contract's signatures, failing as a relay that cannot be reached would.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import type { Connector } from '../http.js';

export interface RelayListener extends EventEmitter {
  close(): void;
}

export function listenOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  direct?: readonly string[];
  connector?: Connector;
}): RelayListener {
  const listener = new EventEmitter() as RelayListener;
  listener.close = () => undefined;
  setImmediate(() =>
    listener.emit(
      'disconnected',
      new P2PError('tunnel_unreachable', `no relay at ${options.relay}`),
    ),
  );
  return listener;
}

export function findOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  connector?: Connector;
}): Promise<{ device: string; direct: string[] }[]> {
  return Promise.reject(new P2PError('tunnel_unreachable', `no relay at ${options.relay}`));
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
  return Promise.reject(new P2PError('tunnel_unreachable', `no relay at ${options.relay}`));
}
