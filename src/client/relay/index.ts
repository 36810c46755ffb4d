/**
 * A device's side of a tunnel relay (docs/tunnel-relay.md): listen for dials to a service,
 * find the devices registered for one, dial one of them. The legs these return carry raw
 * bytes between the two devices; the secure channel on top of them is what makes those bytes
 * private and authentic (the relay is trusted with neither).
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { P2PError } from '../../errors.js';
import type { Identity } from '../../keys/keys.js';
import type { Connector } from '../http.js';
import { openControl, type ControlChannel, type ControlOptions } from './control.js';
import { SERVICE_BYTES, checkDirect } from '../../relay/wire.js';

export { RELAY_PATH, RELAY_PROTOCOL } from '../../relay/wire.js';

const DEFAULT_TIMEOUT_MS = 30_000;
/** Dials offered to a listener that it accepts at once; more wait for the relay's deadline. */
const MAX_ACCEPTING = 64;

export interface RelayListenerOptions {
  readonly relay: string;
  readonly self: Identity;
  readonly service: Uint8Array;
  /** host:port the exposer can be reached at directly (advertised to finders). */
  readonly direct?: readonly string[];
  readonly connector?: Connector;
  /** First and longest wait between reconnections (default 250 ms and 30 s). */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Deadline of each connection's setup (default 30 s). */
  readonly timeoutMs?: number;
}

export interface RelayLegInfo {
  /** The identity text the dialing leg authenticated as to the relay. */
  readonly from: string;
}

/**
 * Events: 'leg' (leg: Duplex, info: RelayLegInfo), 'registered' (), 'disconnected' (error:
 * P2PError), 'accept-failed' (error: P2PError). It never emits 'error'.
 */
export interface RelayListener extends EventEmitter {
  close(): void;
}

function serviceHex(service: Uint8Array): string {
  if (service.length !== SERVICE_BYTES) {
    throw new P2PError(
      'bad_argument',
      `a service id is ${SERVICE_BYTES} bytes, not ${service.length}`,
    );
  }
  return Buffer.from(service).toString('hex');
}

function controlOptions(options: {
  relay: string;
  self: Identity;
  connector?: Connector | undefined;
  timeoutMs?: number | undefined;
  signal?: AbortSignal | undefined;
}): ControlOptions {
  return {
    relay: options.relay.replace(/\/+$/, ''),
    self: options.self,
    connector: options.connector,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    signal: options.signal,
  };
}

/** The devices registered on `relay` for `service`, with the direct addresses they advertise. */
export async function findOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  connector?: Connector;
  timeoutMs?: number;
}): Promise<{ device: string; direct: string[] }[]> {
  const service = serviceHex(options.service);
  const settings = controlOptions(options);
  const control = await openControl(settings, { type: 'find', service });
  try {
    const answer = await control.next(settings.timeoutMs, 'the list of devices');
    if (answer.type !== 'found') {
      throw new P2PError('node_lied', `${settings.relay} answered a find with ${answer.type}`);
    }
    return answer.devices.map((d) => ({ device: d.device, direct: [...d.direct] }));
  } finally {
    control.close();
  }
}

/** A leg to `device`'s listener for `service`, paired by the relay; raw bytes from here on. */
export async function dialOnRelay(options: {
  relay: string;
  self: Identity;
  service: Uint8Array;
  device: string;
  connector?: Connector;
  timeoutMs?: number;
  signal?: AbortSignal;
}): Promise<Duplex> {
  const service = serviceHex(options.service);
  const settings = controlOptions(options);
  const control = await openControl(settings, { type: 'dial', service, device: options.device });
  return await paired(control, settings, 'the pairing');
}

async function paired(
  control: ControlChannel,
  settings: ControlOptions,
  what: string,
): Promise<Socket> {
  const abort = () => control.close();
  settings.signal?.addEventListener('abort', abort, { once: true });
  try {
    const answer = await control.next(settings.timeoutMs, what);
    if (answer.type !== 'paired') {
      throw new P2PError('node_lied', `${settings.relay} sent ${answer.type} instead of paired`);
    }
    return control.detach();
  } catch (error) {
    control.close();
    if (settings.signal?.aborted) throw new P2PError('aborted', 'the relay call was aborted');
    throw error;
  } finally {
    settings.signal?.removeEventListener('abort', abort);
  }
}

class Listener extends EventEmitter implements RelayListener {
  private closed = false;
  private control: ControlChannel | undefined;
  private wait: NodeJS.Timeout | undefined;
  private accepting = 0;
  private readonly service: string;
  private readonly direct: string[];
  private readonly settings: ControlOptions;

  constructor(private readonly options: RelayListenerOptions) {
    super();
    this.service = serviceHex(options.service);
    this.direct = checkDirect(options.direct ?? []);
    this.settings = controlOptions(options);
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.closed) {
      try {
        await this.session(() => (attempt = 0));
      } catch (error) {
        this.control?.close();
        this.control = undefined;
        if (this.closed) return;
        this.emit('disconnected', error);
      }
      if (this.closed) return;
      const min = this.options.minBackoffMs ?? 250;
      const max = this.options.maxBackoffMs ?? 30_000;
      // Jitter spreads the reconnections of many listeners after a relay restarts.
      const delay = Math.min(max, min * 2 ** Math.min(attempt, 20)) * (0.5 + Math.random() / 2);
      attempt += 1;
      await new Promise<void>((resolve) => (this.wait = setTimeout(resolve, delay)));
    }
  }

  /** One registration, from connecting until the relay is lost. */
  private async session(registered: () => void): Promise<void> {
    const control = await openControl(this.settings, {
      type: 'listen',
      service: this.service,
      direct: this.direct,
    });
    this.control = control;
    if (this.closed) return control.close();
    const first = await control.next(this.settings.timeoutMs, 'the registration');
    if (first.type !== 'registered') {
      throw new P2PError('node_lied', `${this.settings.relay} answered listen with ${first.type}`);
    }
    registered();
    this.emit('registered');
    // Two missed pings and a half: the relay, or the path to it, is gone.
    const silence = Math.ceil(first.ping_seconds * 2500);
    for (;;) {
      const message = await control.next(silence, 'a ping');
      if (message.type === 'ping') control.send({ type: 'pong' });
      else if (message.type === 'incoming') this.accept(message.leg);
      else
        throw new P2PError(
          'node_lied',
          `${this.settings.relay} sent ${message.type} to a listener`,
        );
    }
  }

  private accept(leg: string): void {
    if (this.accepting >= MAX_ACCEPTING) return;
    this.accepting += 1;
    void (async () => {
      try {
        const control = await openControl(this.settings, { type: 'accept', leg });
        const peer = control.next(this.settings.timeoutMs, 'the pairing');
        const first = await peer.catch((error: unknown) => {
          control.close();
          throw error;
        });
        if (first.type !== 'paired') {
          control.close();
          throw new P2PError(
            'node_lied',
            `${this.settings.relay} sent ${first.type} instead of paired`,
          );
        }
        const socket = control.detach();
        if (this.closed) socket.destroy();
        else this.emit('leg', socket, { from: first.peer } satisfies RelayLegInfo);
      } catch (error) {
        if (!this.closed) this.emit('accept-failed', error);
      } finally {
        this.accepting -= 1;
      }
    })();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.wait);
    this.control?.close();
  }
}

/**
 * Registers `self` for `service` on `relay` and keeps it registered until close(). A service
 * id that is not 32 bytes or a bad direct address throws bad_argument at once.
 */
export function listenOnRelay(options: RelayListenerOptions): RelayListener {
  return new Listener(options);
}
