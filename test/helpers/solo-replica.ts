/**
 * A key-value replica with one writer and no network: the device's own identity writes, every
 * batch it holds counts, and the outbox is never sent. Lets tests run the replicated store
 * (signing, merging, the replica file) where no group or node is needed, such as
 * abstract-level's own suite.
 */
import { randomBytes } from 'node:crypto';
import { identityText, generateIdentity, type Identity } from '../../src/keys/keys.js';
import { KvReplica, type ReplicaHost } from '../../src/gateway/kv/replica.js';
import type { SqliteLevelOptions } from '../../src/kv/level/sqlite-level.js';

export function soloHost(identity: Identity, epoch = '00'.repeat(16)): ReplicaHost {
  const signer = identityText(identity);
  let seq = 0;
  return {
    writer: () => ({ identity, signer, person: signer, epoch }),
    nextSeq: () => ++seq,
    judge: () => 'accept',
    writers: () => [signer],
    wrote: () => undefined,
  };
}

export function soloReplica<K = string, V = string>(
  location: string,
  options: SqliteLevelOptions<K, V> = {},
  identity: Identity = generateIdentity(),
): KvReplica<K, V> {
  return new KvReplica<K, V>(
    location,
    randomBytes(16).toString('hex'),
    soloHost(identity),
    options,
  );
}
