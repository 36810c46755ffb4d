/**
 * The scope of a sync exchange: the tables both nodes mirror. 'all' when both mirror every
 * table; otherwise the sorted list of table keys in common (possibly empty: nothing to sync).
 */
import { P2PError } from '../errors.js';
import { fromHex, toHex } from '../encoding/bytes.js';

export type Scope =
  | { readonly kind: 'all' }
  | { readonly kind: 'tables'; readonly tables: readonly Buffer[] };

export const ALL: Scope = { kind: 'all' };
export const MAX_SCOPE_TABLES = 10_000;

export function tablesScope(tables: Iterable<Uint8Array>): Scope {
  const unique = new Map<string, Buffer>();
  for (const t of tables) unique.set(toHex(t), Buffer.from(t));
  return { kind: 'tables', tables: [...unique.keys()].sort().map((k) => unique.get(k)!) };
}

/** A stable string naming the scope (cache key, log field). */
export function scopeKey(scope: Scope): string {
  return scope.kind === 'all' ? 'all' : scope.tables.map((t) => toHex(t)).join(',');
}

/** What two mirror settings have in common. `undefined` stands for 'all tables'. */
export function commonScope(
  local: ReadonlySet<string> | undefined,
  remote: 'all' | readonly string[],
): Scope {
  if (local === undefined && remote === 'all') return ALL;
  if (local === undefined)
    return tablesScope((remote as readonly string[]).map((t) => fromHex(t, 32)!));
  const wanted = remote === 'all' ? [...local] : remote.filter((t) => local.has(t));
  return tablesScope(wanted.map((t) => fromHex(t, 32)!));
}

export function isEmptyScope(scope: Scope): boolean {
  return scope.kind === 'tables' && scope.tables.length === 0;
}

/** The tables a store query is restricted to: undefined for scope all. */
export function scopeTables(scope: Scope): readonly Buffer[] | undefined {
  return scope.kind === 'all' ? undefined : scope.tables;
}

export function scopeToWire(scope: Scope): 'all' | string[] {
  return scope.kind === 'all' ? 'all' : scope.tables.map((t) => toHex(t));
}

const TABLE_HEX = /^[0-9a-f]{64}$/i;

export function scopeFromWire(value: unknown): Scope {
  if (value === 'all') return ALL;
  if (!Array.isArray(value) || value.length > MAX_SCOPE_TABLES) {
    throw new P2PError(
      'bad_sync_request',
      `scope must be "all" or an array of at most ${MAX_SCOPE_TABLES} table keys`,
    );
  }
  // Sorted and deduplicated as text, converted once: a scope may list 10,000 tables.
  const unique = new Set<string>();
  for (const text of value) {
    if (typeof text !== 'string' || !TABLE_HEX.test(text))
      throw new P2PError('bad_sync_request', 'scope tables must be 64 hex characters');
    unique.add(text.toLowerCase());
  }
  return { kind: 'tables', tables: [...unique].sort().map((hex) => Buffer.from(hex, 'hex')) };
}

/** Restricts a scope to what this node mirrors (a peer may ask for more than we hold). */
export function restrictScope(scope: Scope, mirrored: ReadonlySet<string> | undefined): Scope {
  if (mirrored === undefined) return scope;
  if (scope.kind === 'all') return tablesScope([...mirrored].map((t) => fromHex(t, 32)!));
  return tablesScope(scope.tables.filter((t) => mirrored.has(toHex(t))));
}
