/**
 * What a relay knows and counts, without any socket: which devices are registered for which
 * service, which dials wait for an accept, and how many legs and registrations each identity
 * holds. Every map here is bounded by the relay's limits, so strangers cannot grow it.
 */
import { P2PError } from '../../errors.js';
import { randomBytes } from '../../crypto/random.js';
import { LEG_ID_BYTES } from '../../relay/wire.js';

export interface RegistryLimits {
  readonly maxLegsPerIdentity: number;
  readonly maxRegistrationsPerIdentity: number;
  readonly maxRegistrationsPerService: number;
}

/** A registered listener: `L` is whatever the relay reaches it by. */
export interface Registration<L> {
  readonly service: string;
  readonly device: string;
  /** The device's signing key (hex): what caps are counted by. */
  readonly signer: string;
  readonly direct: readonly string[];
  readonly listener: L;
}

interface Pending<D> {
  readonly dialer: D;
  /** The device the dial was offered to: only it may accept. */
  readonly device: string;
}

export class RelayRegistry<L, D> {
  private readonly services = new Map<string, Map<string, Registration<L>>>();
  private readonly registrationsOf = new Map<string, number>();
  private readonly legsOf = new Map<string, number>();
  private readonly pending = new Map<string, Pending<D>>();

  constructor(private readonly limits: RegistryLimits) {}

  /** Counts an authenticated leg of `signer`; refuses one past the identity's cap. */
  admitLeg(signer: string): void {
    const legs = this.legsOf.get(signer) ?? 0;
    if (legs >= this.limits.maxLegsPerIdentity) {
      throw new P2PError(
        'relay_busy',
        `this identity holds ${legs} relay connections already, the most this relay allows per identity: close some first`,
      );
    }
    this.legsOf.set(signer, legs + 1);
  }

  releaseLeg(signer: string): void {
    decrement(this.legsOf, signer);
  }

  legsOfIdentity(signer: string): number {
    return this.legsOf.get(signer) ?? 0;
  }

  /**
   * Registers a device for a service. The same device registering the same service again
   * replaces its older registration, which is returned so that its connection can be closed.
   */
  register(entry: Registration<L>): Registration<L> | undefined {
    const devices = this.services.get(entry.service);
    const previous = devices?.get(entry.device);
    if (!previous) {
      if ((devices?.size ?? 0) >= this.limits.maxRegistrationsPerService) {
        throw new P2PError(
          'relay_busy',
          `${this.limits.maxRegistrationsPerService} devices are registered for this service already, the most this relay allows`,
        );
      }
      const mine = this.registrationsOf.get(entry.signer) ?? 0;
      if (mine >= this.limits.maxRegistrationsPerIdentity) {
        throw new P2PError(
          'relay_busy',
          `this identity is registered for ${mine} services already, the most this relay allows per identity`,
        );
      }
      this.registrationsOf.set(entry.signer, mine + 1);
    }
    const map = devices ?? new Map<string, Registration<L>>();
    map.set(entry.device, entry);
    this.services.set(entry.service, map);
    return previous;
  }

  /** Removes `entry` if it is still the registration of its device for its service. */
  unregister(entry: Registration<L>): void {
    const devices = this.services.get(entry.service);
    if (devices?.get(entry.device) !== entry) return;
    devices.delete(entry.device);
    if (devices.size === 0) this.services.delete(entry.service);
    decrement(this.registrationsOf, entry.signer);
  }

  registered(service: string): Registration<L>[] {
    return [...(this.services.get(service)?.values() ?? [])];
  }

  lookup(service: string, device: string): Registration<L> | undefined {
    return this.services.get(service)?.get(device);
  }

  get registrations(): number {
    let total = 0;
    for (const devices of this.services.values()) total += devices.size;
    return total;
  }

  /** Holds a dial for `device` to accept; returns the leg id to offer it under. */
  offer(dialer: D, device: string): string {
    const leg = randomBytes(LEG_ID_BYTES).toString('hex');
    this.pending.set(leg, { dialer, device });
    return leg;
  }

  /** The dial waiting under `leg` for `device`, taken out of the waiting list. */
  take(leg: string, device: string): D | undefined {
    const waiting = this.pending.get(leg);
    if (!waiting || waiting.device !== device) return undefined;
    this.pending.delete(leg);
    return waiting.dialer;
  }

  /** Drops a waiting dial (its dialer left or its deadline passed). */
  withdraw(leg: string): void {
    this.pending.delete(leg);
  }

  get waiting(): number {
    return this.pending.size;
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const left = (map.get(key) ?? 0) - 1;
  if (left > 0) map.set(key, left);
  else map.delete(key);
}
