/**
 * The directories this gateway follows: its own persons', its groups' members', and those of
 * persons whose devices signed something it read. Each is a space read like any other (§3.1 of
 * docs/identity.md); its statements are kept in the store and judged by the pure rule of
 * identity/directory.ts. A directory counts as known once a whole poll round has read it, so
 * that "no certificate" can be told from "not read yet".
 */
import { deviceState, directoryKeys, type DeviceState } from '../../identity/directory.js';
import type { Statement } from '../../identity/statement.js';
import type { TableKey } from '../../keys/keys.js';
import type { BoxKeyPair } from '../../crypto/x25519.js';
import type { IdentityStore } from './store.js';

const KINDS = ['device-cert', 'device-revoke'];

/** Directories followed at most (each costs a table in every poll). */
export const MAX_DIRECTORIES = 5_000;

export class Directories {
  private readonly followed = new Map<string, { round: number; known: boolean }>();
  private readonly states = new Map<string, DeviceState>();
  private readonly keys = new Map<string, { table: TableKey; reader: BoxKeyPair }>();
  /** Persons whose directory changed since the last call to takeChanged(). */
  private readonly changed = new Set<string>();
  private round = 0;
  private readonly learnedDirectly: string[] = [];

  constructor(private readonly store: IdentityStore) {}

  follow(person: string): void {
    if (this.followed.has(person) || this.followed.size >= MAX_DIRECTORIES) return;
    this.followed.set(person, { round: this.round, known: false });
  }

  /**
   * Marks as known every directory followed before the round that just ended; returns those
   * that became known since the last call (here or by markKnown), whose waiting entries can
   * be judged now.
   */
  roundEnded(): string[] {
    const learned: string[] = this.learnedDirectly.splice(0);
    for (const [person, state] of this.followed) {
      if (!state.known && state.round < this.round) {
        state.known = true;
        learned.push(person);
      }
    }
    this.round += 1;
    return learned;
  }

  /** A directory read directly (not by the poller) is known at once. */
  markKnown(person: string): void {
    this.follow(person);
    const state = this.followed.get(person);
    if (state && !state.known) {
      state.known = true;
      this.learnedDirectly.push(person);
    }
  }

  isKnown(person: string): boolean {
    return this.followed.get(person)?.known === true;
  }

  persons(): string[] {
    return [...this.followed.keys()];
  }

  keysOf(person: string): { table: TableKey; reader: BoxKeyPair } {
    let keys = this.keys.get(person);
    if (!keys) {
      keys = directoryKeys(person);
      this.keys.set(person, keys);
    }
    return keys;
  }

  /** Stores a directory statement read from a node; true if it was new. */
  add(person: string, statement: Statement): boolean {
    if (statement.person !== person || !KINDS.includes(statement.kind)) return false;
    if (!this.store.addStatement(statement, person)) return false;
    this.states.delete(person);
    this.changed.add(person);
    return true;
  }

  state(person: string): DeviceState {
    let state = this.states.get(person);
    if (!state) {
      state = deviceState(person, this.store.statements(KINDS, person));
      this.states.set(person, state);
    }
    return state;
  }

  /**
   * Whether `signer` speaks for `person` at (at, seq): undefined while the person's directory
   * has not been read (the caller waits for it rather than judging on nothing).
   */
  accepts(person: string, signer: string, at: number, seq: number): boolean | undefined {
    if (signer === person) return true;
    if (!this.isKnown(person)) {
      this.follow(person);
      return undefined;
    }
    return this.state(person).accepts(signer, at, seq);
  }

  takeChanged(): string[] {
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }
}
