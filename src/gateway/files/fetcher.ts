/**
 * Objects of one epoch fetched by entry id from the nodes, each opened and checked before it
 * is used (docs/files.md §4.6): an entry is asked of one node after another until a copy
 * passes. A node that is down, answers with an error, or serves bytes that fail the check is
 * passed over for the next; the read starts with the node that served the last good copy.
 */
import { fetchById, MAX_IDS_PER_FETCH } from '../../client/fetch-by-id.js';
import type { BoxKeyPair } from '../../crypto/x25519.js';
import { inspectEntry, isEntryFault } from '../../entry/format.js';
import { openEntry } from '../../entry/open.js';
import { P2PError } from '../../errors.js';
import type { Connector } from '../../client/http.js';

/** An entry of the files table holds at most a 61,440-byte object, sealed and signed. */
export const MAX_OBJECT_ENTRY_BYTES = 64 * 1024;

export interface FetchContext {
  readonly nodes: readonly string[];
  readonly reader: BoxKeyPair;
  readonly timeoutMs: number;
  /** The gateway's connection pools (its proxy's, if it has one). */
  readonly connector?: Connector | undefined;
  readonly signal?: AbortSignal;
  /** Where problems are told (a node serving wrong bytes, a node down). */
  readonly warn?: (message: string, node: string) => void;
}

export class ObjectFetcher {
  private start = 0;

  constructor(private readonly context: FetchContext) {}

  /**
   * The plaintexts of `ids`, each one that `check` accepts (told when the entry expires, 0 for
   * never). Throws chunk_unavailable, naming what went wrong, when some id has no good copy on
   * any node.
   */
  async fetch(
    ids: readonly string[],
    check: (id: string, plaintext: Buffer, expiresAt: number) => boolean,
  ): Promise<Map<string, Buffer>> {
    const { nodes } = this.context;
    const found = new Map<string, Buffer>();
    const problems: string[] = [];
    let missing = [...new Set(ids)];
    for (let tried = 0; tried < nodes.length && missing.length > 0; tried++) {
      const at = (this.start + tried) % nodes.length;
      const node = nodes[at]!;
      let bad = 0;
      try {
        for (let i = 0; i < missing.length; i += MAX_IDS_PER_FETCH) {
          const part = missing.slice(i, i + MAX_IDS_PER_FETCH);
          const { entries, wrong } = await fetchById(node, part, {
            timeoutMs: this.context.timeoutMs,
            maxEntryBytes: MAX_OBJECT_ENTRY_BYTES,
            ...(this.context.connector ? { connector: this.context.connector } : {}),
            ...(this.context.signal ? { signal: this.context.signal } : {}),
          });
          bad += wrong;
          for (const [id, bytes] of entries) {
            const opened = this.open(bytes);
            if (opened && check(id, opened.plaintext, opened.expiresAt)) {
              found.set(id, opened.plaintext);
            } else bad += 1;
          }
        }
      } catch (error) {
        if (error instanceof P2PError && error.code === 'aborted') throw error;
        problems.push(`${node}: ${(error as Error).message}`);
        this.context.warn?.(`cannot fetch from the node: ${(error as Error).message}`, node);
        continue;
      }
      if (bad > 0) {
        problems.push(`${node} served ${bad} bad ${bad === 1 ? 'copy' : 'copies'}`);
        this.context.warn?.(`the node served ${bad} entries that fail their check`, node);
      }
      const before = missing.length;
      missing = missing.filter((id) => !found.has(id));
      // The next read starts where this one found what it asked for.
      if (missing.length < before && bad === 0) this.start = at;
    }
    if (missing.length > 0) {
      const why = problems.length > 0 ? problems.join('; ') : 'no node holds it';
      throw new P2PError(
        'chunk_unavailable',
        `${missing.length} of the file's objects could not be read from any node (${why})`,
      );
    }
    return found;
  }

  private open(bytes: Buffer): { plaintext: Buffer; expiresAt: number } | undefined {
    const entry = inspectEntry(bytes);
    if (isEntryFault(entry)) return undefined;
    const plaintext = openEntry(entry, this.context.reader);
    return plaintext ? { plaintext, expiresAt: entry.expiresAt } : undefined;
  }
}
