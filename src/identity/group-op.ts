/**
 * Group operations (docs/identity.md §5.3): the body of a `group-op` statement, read strictly.
 *
 *   { "group": "<32 hex>", "prev": ["<64 hex>", …], "op": "add", "member": "p2pid1…",
 *     "role": "writer", "name": null, "nonce": null, "meta": null,
 *     "epoch": { "table": …, "reader": …, "control_table": …, "control_reader": … } }
 *
 * Every member is always present (null when unset), so one body has one meaning. Identity
 * texts must be in their canonical (lower case, untrimmed) form: membership compares them as
 * strings, and two spellings of one person must not become two members. Pure: no I/O.
 */
import { sha256 } from '../crypto/sha256.js';
import { utf8 } from '../encoding/bytes.js';
import { encodeKeyText } from '../encoding/key-text.js';
import { identityKeyBytes, isIdentityText, type Statement } from './statement.js';

export type Role = 'owner' | 'admin' | 'writer' | 'reader';
export type OpKind = 'create' | 'add' | 'remove' | 'role' | 'rekey';

export const OP_KINDS: readonly OpKind[] = ['create', 'add', 'remove', 'role', 'rekey'];
/** Roles an operation may give: the owner is only ever the creator. */
export const GRANTABLE_ROLES: readonly Exclude<Role, 'owner'>[] = ['admin', 'writer', 'reader'];

export const GROUP_ID_DOMAIN = utf8('p2pcloud/v1/group-id');
/** Most parents an operation may name. */
export const MAX_PREV = 16;
export const MAX_GROUP_NAME = 100;

export interface EpochPublic {
  readonly table: string;
  readonly reader: string;
  readonly control_table: string;
  readonly control_reader: string;
}

export interface GroupOp {
  readonly statement: Statement;
  readonly hash: string;
  /** The committer's person. */
  readonly person: string;
  readonly group: string;
  readonly prev: readonly string[];
  readonly op: OpKind;
  readonly member: string | null;
  readonly role: Exclude<Role, 'owner'> | null;
  readonly name: string | null;
  readonly nonce: string | null;
  readonly meta: Record<string, unknown> | null;
  readonly epoch: EpochPublic;
}

const BODY_MEMBERS = ['group', 'prev', 'op', 'member', 'role', 'name', 'nonce', 'meta', 'epoch'];
const EPOCH_MEMBERS = ['table', 'reader', 'control_table', 'control_reader'] as const;
const HEX32 = /^[0-9a-f]{32}$/;
const HEX64 = /^[0-9a-f]{64}$/;

/** Whether `text` is an identity text in the one form its bytes encode to. */
export function isCanonicalIdentity(text: unknown): text is string {
  return isIdentityText(text) && encodeKeyText('identity', identityKeyBytes(text)) === text;
}

/** The group id: SHA-256("p2pcloud/v1/group-id" || identity bytes(owner) || nonce)[0..16], hex. */
export function groupIdOf(owner: string, nonce: Uint8Array | string): string {
  let nonceBytes: Uint8Array;
  if (typeof nonce === 'string') {
    if (!HEX32.test(nonce)) throw new RangeError('group nonce must be 32 lower case hex');
    nonceBytes = Buffer.from(nonce, 'hex');
  } else {
    if (nonce.length !== 16) throw new RangeError('group nonce must be 16 bytes');
    nonceBytes = nonce;
  }
  return sha256(GROUP_ID_DOMAIN, identityKeyBytes(owner), nonceBytes)
    .subarray(0, 16)
    .toString('hex');
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasExactly(object: Record<string, unknown>, members: readonly string[]): boolean {
  const keys = Object.keys(object);
  return keys.length === members.length && members.every((m) => Object.hasOwn(object, m));
}

function readEpoch(value: unknown): EpochPublic | undefined {
  if (!isPlainObject(value) || !hasExactly(value, EPOCH_MEMBERS)) return undefined;
  for (const m of EPOCH_MEMBERS) {
    const v = value[m];
    if (typeof v !== 'string' || !HEX64.test(v)) return undefined;
  }
  const e = value as Record<(typeof EPOCH_MEMBERS)[number], string>;
  return {
    table: e.table,
    reader: e.reader,
    control_table: e.control_table,
    control_reader: e.control_reader,
  };
}

/** Parents: sorted, distinct 64-hex hashes; none for a create, 1–16 otherwise. */
function validPrev(prev: unknown, op: OpKind): prev is string[] {
  if (!Array.isArray(prev)) return false;
  if (op === 'create' ? prev.length !== 0 : prev.length < 1 || prev.length > MAX_PREV) {
    return false;
  }
  for (let i = 0; i < prev.length; i++) {
    const h: unknown = prev[i];
    if (typeof h !== 'string' || !HEX64.test(h)) return false;
    if (i > 0 && !((prev[i - 1] as string) < h)) return false;
  }
  return true;
}

function validName(name: unknown): name is string {
  if (typeof name !== 'string') return false;
  const length = [...name].length;
  return length >= 1 && length <= MAX_GROUP_NAME;
}

type Fields = Omit<GroupOp, 'statement' | 'hash' | 'person'>;

/** The checked fields of a body object, or undefined when its shape is not exactly §5.3's. */
function readBody(body: Record<string, unknown>): Fields | undefined {
  if (!hasExactly(body, BODY_MEMBERS)) return undefined;
  const { group, prev, op, member, role, name, nonce, meta } = body;
  if (typeof group !== 'string' || !HEX32.test(group)) return undefined;
  if (typeof op !== 'string' || !(OP_KINDS as readonly string[]).includes(op)) return undefined;
  const kind = op as OpKind;
  if (!validPrev(prev, kind)) return undefined;
  const epoch = readEpoch(body.epoch);
  if (!epoch) return undefined;
  const wantsMember = kind === 'add' || kind === 'role' || kind === 'remove';
  const wantsRole = kind === 'add' || kind === 'role';
  const isCreate = kind === 'create';
  if (wantsMember ? !isCanonicalIdentity(member) : member !== null) return undefined;
  if (
    wantsRole
      ? typeof role !== 'string' || !(GRANTABLE_ROLES as readonly string[]).includes(role)
      : role !== null
  ) {
    return undefined;
  }
  if (isCreate ? !validName(name) : name !== null) return undefined;
  if (isCreate ? typeof nonce !== 'string' || !HEX32.test(nonce) : nonce !== null) {
    return undefined;
  }
  if (isCreate ? !isPlainObject(meta) : meta !== null) return undefined;
  return {
    group,
    prev: [...prev],
    op: kind,
    member: (member as string | null) ?? null,
    role: (role as Exclude<Role, 'owner'> | null) ?? null,
    name: (name as string | null) ?? null,
    nonce: (nonce as string | null) ?? null,
    meta: (meta as Record<string, unknown> | null) ?? null,
    epoch,
  };
}

/** The body object of a group-op statement (validated like parseGroupOp; throws RangeError on misuse). */
export function groupOpBody(input: {
  group: string;
  prev: readonly string[];
  op: OpKind;
  member?: string;
  role?: Exclude<Role, 'owner'>;
  name?: string;
  nonce?: string;
  meta?: Record<string, unknown>;
  epoch: EpochPublic;
}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    group: input.group,
    prev: [...input.prev],
    op: input.op,
    member: input.member ?? null,
    role: input.role ?? null,
    name: input.name ?? null,
    nonce: input.nonce ?? null,
    meta: input.meta ?? null,
    epoch: {
      table: input.epoch.table,
      reader: input.epoch.reader,
      control_table: input.epoch.control_table,
      control_reader: input.epoch.control_reader,
    },
  };
  // The JSON round trip is what a reader will see: a meta that does not survive it is misuse.
  const seen = JSON.parse(JSON.stringify(body)) as Record<string, unknown>;
  if (!readBody(seen)) throw new RangeError(`invalid ${String(input.op)} operation for §5.3`);
  return body;
}

/**
 * From a decoded, signature-checked statement (decodeStatement's result); undefined unless
 * kind is group-op, the person is in canonical form and the body has exactly the shape of §5.3.
 */
export function parseGroupOp(
  statement: Statement & { bodyObject: Record<string, unknown> },
): GroupOp | undefined {
  if (statement.kind !== 'group-op' || !isCanonicalIdentity(statement.person)) return undefined;
  const fields = readBody(statement.bodyObject);
  if (!fields) return undefined;
  const plain: Statement = {
    kind: statement.kind,
    person: statement.person,
    signer: statement.signer,
    seq: statement.seq,
    at: statement.at,
    body: statement.body,
    sig: statement.sig,
    hash: statement.hash,
  };
  return { statement: plain, hash: statement.hash, person: statement.person, ...fields };
}
