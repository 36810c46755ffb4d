/**
 * What the gateway does with a verified entry read from a node: find the space it belongs to
 * (its table and reader key), open it, check the record's author signature and that the record
 * time equals the entry's created_at, and apply it to the index; or, for an entry sealed to an
 * identity of the gateway outside its spaces, read it as an invitation. Every entry is marked
 * seen, readable or not, so that it is not opened again.
 *
 * With the identity layer, entries of its spaces (directories, group control and data spaces,
 * link spaces) go to it, and so do statements sealed to an identity of the gateway. A version
 * signed by a linked device, or written into a group, counts only when the layer says so; one
 * that waits for a directory not read yet is kept aside and ingested again once it is
 * (`again` skips the seen check for those).
 */
import type { VerifiedEntry } from '../client/client.js';
import { openEntry } from '../entry/open.js';
import { fromHex, toHex } from '../encoding/bytes.js';
import { identityText, type Identity } from '../keys/keys.js';
import type { RecordIndex } from './index-db.js';
import { decodeInvitation } from './invite.js';
import type { Keyring } from './keyring.js';
import type { IdentityLayer } from './identity/layer.js';
import { decodeVersion, recordId } from './record.js';
import { spaceFromSecrets, type Space } from './space.js';

export interface IngestCounts {
  entries: number;
  records: number;
  invitations: number;
}

function spaceKey(table: Uint8Array, recipient: Uint8Array): string {
  return `${toHex(table)}:${toHex(recipient)}`;
}

export function ingestEntries(
  entries: readonly VerifiedEntry[],
  keyring: Keyring,
  index: RecordIndex,
  layer?: IdentityLayer,
  again = false,
): IngestCounts {
  const counts: IngestCounts = { entries: 0, records: 0, invitations: 0 };
  if (entries.length === 0) return counts;
  const spaces = new Map<string, Space>();
  for (const space of keyring.allSpaces()) {
    spaces.set(spaceKey(space.table.signing.publicKey, space.reader.publicKey), space);
  }
  const identities = new Map<string, Identity>();
  for (const identity of keyring.identities())
    identities.set(toHex(identity.box.publicKey), identity);

  index.transaction(() => {
    for (const entry of entries) {
      const id = fromHex(entry.id, 32)!;
      if (!again && index.seen(id)) continue;
      counts.entries += 1;
      const space = spaces.get(spaceKey(entry.table, entry.recipient));
      const channel = space ? undefined : layer?.channelOf(entry.table, entry.recipient);
      if (space || channel?.kind === 'data') {
        const reader = space ? space.reader : channel!.reader;
        const plaintext = openEntry(entry.entry, reader);
        const version = plaintext ? decodeVersion(plaintext) : undefined;
        // The author's time must be the entry's: a version cannot be re-dated by a re-wrap.
        if (version && version.at === entry.createdAt) {
          const verdict = layer
            ? layer.recordVerdict(channel, version)
            : version.signer === undefined
              ? 'accept'
              : 'reject';
          if (verdict === 'defer') layer!.defer(version.author, entry);
          if (verdict === 'accept') {
            const outcome = index.applyVersion(
              space ? space.id : channel!.ref,
              recordId(version.author, version.collection, version.key),
              version,
              entry.id,
            );
            if (outcome !== 'stale') counts.records += 1;
          }
        } else if (plaintext && channel) {
          layer!.ingestData(channel, entry, plaintext);
        }
      } else if (channel) {
        layer!.ingestChannel(channel, entry);
      } else {
        const identity = identities.get(toHex(entry.recipient));
        const plaintext = identity ? openEntry(entry.entry, identity.box) : undefined;
        const invitation = plaintext ? decodeInvitation(plaintext) : undefined;
        if (
          identity &&
          invitation &&
          invitation.to === identityText(identity) &&
          invitation.at === entry.createdAt
        ) {
          const space = spaceFromSecrets(invitation.space, {
            kind: 'private',
            members: undefined,
            invited: new Set(),
            invitedBy: invitation.from,
            createdAt: invitation.at,
          });
          const held = keyring.space(space.id, invitation.to) !== undefined;
          if (
            index.addInvitation({
              id: entry.id,
              invitee: invitation.to,
              inviter: invitation.from,
              at: invitation.at,
              spaceId: space.id,
              name: invitation.space.name,
              secrets: invitation.spaceText,
              state: held ? 'accepted' : 'pending',
            })
          ) {
            counts.invitations += 1;
          }
        } else if (identity && plaintext && layer) {
          if (layer.ingestAddressed(identity, entry, plaintext) === 'handled') {
            counts.invitations += 1;
          }
        }
      }
      index.markSeen(id, entry.table, entry.createdAt);
    }
  });
  return counts;
}
