/**
 * Spaces: where collections of records live. A space is a table key pair (whoever holds its
 * secret may post) and a reader key pair (X25519: every entry of the space is sealed to it, so
 * whoever holds its secret may read). Three kinds:
 *
 * - personal: one per identity, the identity's own table (derived from its signing seed) and
 *   its own box key as reader. Only that identity reads it.
 * - private: random keys, shared with invited identities by invitation entries.
 * - public: keys derived from a published seed, so that everyone can derive them (an app's
 *   public area; node operators can read it too).
 *
 * Pure: key derivation, ids, and the space key file format. Files are written by keyring.ts.
 */
import { z } from 'zod';
import { hkdfExpand, hkdfExtract } from '../crypto/hkdf.js';
import { sha256 } from '../crypto/sha256.js';
import { signingKeyPairFromSeed } from '../crypto/ed25519.js';
import { boxKeyPairFromSecret, type BoxKeyPair } from '../crypto/x25519.js';
import { fail } from '../errors.js';
import { fromHex, toHex, utf8 } from '../encoding/bytes.js';
import {
  identityText,
  recipientText,
  tableText,
  type Identity,
  type TableKey,
} from '../keys/keys.js';

export type SpaceKind = 'personal' | 'private' | 'public' | 'group';

export interface Space {
  readonly id: string;
  readonly kind: SpaceKind;
  readonly name: string;
  readonly table: TableKey;
  readonly reader: BoxKeyPair;
  /** App-defined description (for example a forum community's title); travels in invitations. */
  readonly meta: Record<string, unknown>;
  /** Identity texts that may use the space; undefined = every identity of the gateway. */
  readonly members: Set<string> | undefined;
  /** Identity texts invited from this gateway. */
  readonly invited: Set<string>;
  readonly invitedBy: string | undefined;
  readonly createdAt: number;
  /** For a group (docs/identity.md §5): the member's role, and whether it holds the table key. */
  readonly group?: {
    readonly role: 'owner' | 'admin' | 'writer' | 'reader';
    readonly writable: boolean;
  };
}

const SPACE_ID_DOMAIN = utf8('p2pcloud/v1/space-id');

/** 16 bytes of SHA-256(domain || table public key || reader public key), in hex. */
export function spaceId(tablePublicKey: Uint8Array, readerPublicKey: Uint8Array): string {
  return toHex(sha256(SPACE_ID_DOMAIN, tablePublicKey, readerPublicKey).subarray(0, 16));
}

function derive(ikm: Uint8Array, info: string): Buffer {
  return hkdfExpand(hkdfExtract(Buffer.alloc(0), ikm), utf8(info), 32);
}

/** The personal table of an identity: HKDF-SHA256 of its signing seed, so it is never stored. */
export function personalTable(identity: Identity): TableKey {
  return {
    signing: signingKeyPairFromSeed(derive(identity.signing.seed, 'p2pcloud/v1/personal-table')),
  };
}

export function personalSpace(identity: Identity): Space {
  const table = personalTable(identity);
  const text = identityText(identity);
  return {
    id: spaceId(table.signing.publicKey, identity.box.publicKey),
    kind: 'personal',
    name: 'personal',
    table,
    reader: identity.box,
    meta: {},
    members: new Set([text]),
    invited: new Set(),
    invitedBy: undefined,
    createdAt: 0,
  };
}

/**
 * A public space whose keys anyone can derive from a published seed and a label:
 * HKDF-SHA256(ikm = seed, info = "p2pcloud/v1/public-space/{table|reader}/" + label).
 */
export function publicSpace(
  seed: string,
  label: string,
  name: string,
  meta: Record<string, unknown> = {},
): Space {
  const table = {
    signing: signingKeyPairFromSeed(derive(utf8(seed), `p2pcloud/v1/public-space/table/${label}`)),
  };
  const reader = boxKeyPairFromSecret(
    derive(utf8(seed), `p2pcloud/v1/public-space/reader/${label}`),
  );
  return {
    id: spaceId(table.signing.publicKey, reader.publicKey),
    kind: 'public',
    name,
    table,
    reader,
    meta,
    members: undefined,
    invited: new Set(),
    invitedBy: undefined,
    createdAt: 0,
  };
}

/** The secret part of a space as invitations carry it and space files store it. */
export interface SpaceSecrets {
  readonly name: string;
  readonly table_seed: string;
  readonly reader_secret: string;
  readonly meta: Record<string, unknown>;
}

export function spaceSecrets(space: Space): SpaceSecrets {
  return {
    name: space.name,
    table_seed: toHex(space.table.signing.seed),
    reader_secret: toHex(space.reader.secretKey),
    meta: space.meta,
  };
}

const hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const metaSchema = z.record(z.string(), z.unknown());
export const NAME_MAX = 100;

export const secretsSchema = z
  .object({
    name: z.string().min(1).max(NAME_MAX),
    table_seed: hex32,
    reader_secret: hex32,
    meta: metaSchema,
  })
  .strict();

export function spaceFromSecrets(
  secrets: SpaceSecrets,
  extra: Pick<Space, 'kind' | 'members' | 'invited' | 'invitedBy' | 'createdAt'>,
): Space {
  const table = { signing: signingKeyPairFromSeed(fromHex(secrets.table_seed, 32)!) };
  const reader = boxKeyPairFromSecret(fromHex(secrets.reader_secret, 32)!);
  return {
    id: spaceId(table.signing.publicKey, reader.publicKey),
    name: secrets.name,
    table,
    reader,
    meta: secrets.meta,
    ...extra,
  };
}

const spaceFileSchema = z
  .object({
    kind: z.literal('p2pcloud-space'),
    version: z.literal(1),
    id: z.string(),
    space: secretsSchema,
    members: z.array(z.string()).max(10_000),
    invited: z.array(z.string()).max(10_000),
    invited_by: z.string().nullable(),
    created_at: z.number().int().min(0),
  })
  .strict();

/** The JSON of a private space's key file (written with mode 0600). */
export function serializeSpace(space: Space): string {
  return `${JSON.stringify(
    {
      kind: 'p2pcloud-space',
      version: 1,
      id: space.id,
      space: spaceSecrets(space),
      members: [...(space.members ?? [])],
      invited: [...space.invited],
      invited_by: space.invitedBy ?? null,
      created_at: space.createdAt,
    },
    null,
    2,
  )}\n`;
}

export function parseSpace(text: string): Space {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    fail('bad_key_file', 'space key file is not JSON');
  }
  const parsed = spaceFileSchema.safeParse(value);
  if (!parsed.success) fail('bad_key_file', 'not a space key file');
  const space = spaceFromSecrets(parsed.data.space, {
    kind: 'private',
    members: new Set(parsed.data.members),
    invited: new Set(parsed.data.invited),
    invitedBy: parsed.data.invited_by ?? undefined,
    createdAt: parsed.data.created_at,
  });
  if (space.id !== parsed.data.id) fail('bad_key_file', 'space key file is damaged (id differs)');
  return space;
}

/** What the API shows of a space: public keys and names, never secrets. */
export function spaceView(space: Space): Record<string, unknown> {
  return {
    id: space.id,
    kind: space.kind,
    name: space.name,
    table: tableText(space.table),
    reader: recipientText(space.reader.publicKey),
    meta: space.meta,
    ...(space.kind === 'private'
      ? {
          members: [...(space.members ?? [])],
          invited: [...space.invited],
          invited_by: space.invitedBy ?? null,
        }
      : {}),
    ...(space.group
      ? {
          members: [...(space.members ?? [])],
          role: space.group.role,
          writable: space.group.writable,
          invited_by: space.invitedBy ?? null,
        }
      : {}),
  };
}
