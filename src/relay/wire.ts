/**
 * The relay's wire format (docs/tunnel-relay.md), shared by the node that relays and the
 * devices that use it. Pure: frames, messages and the signed authentication text, no I/O.
 *
 * Until a leg is paired both sides speak control frames: a 2-byte big-endian length, then that
 * many bytes of one JSON object. After `paired` the bytes on the connection are the two
 * devices' own and nobody parses them here.
 */
import { z } from 'zod';
import { P2PError, fail } from '../errors.js';
import { concatBytes, utf8 } from '../encoding/bytes.js';
import { decodeKeyText, encodeKeyText } from '../encoding/key-text.js';
import { describeIssues } from '../zod-issues.js';

/** The path of the upgrade request and the protocol token of its Upgrade header. */
export const RELAY_PATH = '/relay/v1';
export const RELAY_PROTOCOL = 'p2pcloud-relay/1';

/** Largest control frame body a device sends; a longer announced length ends the leg. */
export const MAX_FRAME_BYTES = 4096;
/**
 * Largest control frame body the relay sends: a `found` answer lists up to
 * MAX_FOUND_DEVICES devices with their addresses, about 600 bytes each at most.
 */
export const MAX_RELAY_FRAME_BYTES = 65_535;
export const MAX_FOUND_DEVICES = 64;
/** Most direct addresses a listener advertises, and the longest one. */
export const MAX_DIRECT = 4;
export const MAX_DIRECT_CHARS = 100;
/** Longest message of an `error` frame: refusals naming many faults are cut to it. */
export const MAX_ERROR_MESSAGE_CHARS = 1000;

/** Domain of the signature a leg authenticates with (docs/tunnel-relay.md §4). */
export const AUTH_DOMAIN = 'p2pcloud/v1/relay/auth';

const hex = (bytes: number) =>
  z.string().regex(new RegExp(`^[0-9a-f]{${bytes * 2}}$`), `must be ${bytes * 2} hex characters`);

export const SERVICE_BYTES = 32;
export const NONCE_BYTES = 32;
export const LEG_ID_BYTES = 16;

/** host:port, host a name, an IPv4 address or a bracketed IPv6 address. */
const directAddress = z
  .string()
  .max(MAX_DIRECT_CHARS)
  .regex(
    /^(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):[1-9][0-9]{0,4}$/,
    'must be host:port',
  )
  .refine((text) => Number(text.slice(text.lastIndexOf(':') + 1)) <= 65535, 'port out of range');

/** Checks a listener's direct addresses before they are sent: bad_argument naming the fault. */
export function checkDirect(direct: readonly string[]): string[] {
  const parsed = z.array(directAddress).max(MAX_DIRECT).safeParse(direct);
  if (!parsed.success) {
    throw new P2PError(
      'bad_argument',
      `direct addresses (at most ${MAX_DIRECT} host:port of at most ${MAX_DIRECT_CHARS} characters): ${describeIssues(parsed.error)}`,
    );
  }
  return parsed.data;
}

const identityField = z.string().max(200);
const signed = { identity: identityField, signature: hex(64) };

/** The first message a leg sends: its role, its parameters and its answer to the challenge. */
export const openingSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('listen'),
      ...signed,
      service: hex(SERVICE_BYTES),
      direct: z.array(directAddress).max(MAX_DIRECT),
    })
    .strict(),
  z.object({ type: z.literal('find'), ...signed, service: hex(SERVICE_BYTES) }).strict(),
  z
    .object({
      type: z.literal('dial'),
      ...signed,
      service: hex(SERVICE_BYTES),
      device: identityField,
    })
    .strict(),
  z.object({ type: z.literal('accept'), ...signed, leg: hex(LEG_ID_BYTES) }).strict(),
]);
export type Opening = z.output<typeof openingSchema>;
export type Role = Opening['type'];

/** What a listener may send once registered. */
export const listenerSchema = z.object({ type: z.literal('pong') }).strict();

/** Everything the relay sends. */
export const relayMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('challenge'),
      version: z.literal(1),
      relay: z.string().min(1).max(64),
      nonce: hex(NONCE_BYTES),
    })
    .strict(),
  z
    .object({ type: z.literal('registered'), ping_seconds: z.number().positive().max(3600) })
    .strict(),
  z.object({ type: z.literal('incoming'), leg: hex(LEG_ID_BYTES), from: identityField }).strict(),
  z.object({ type: z.literal('ping') }).strict(),
  z
    .object({
      type: z.literal('found'),
      devices: z
        .array(
          z
            .object({ device: identityField, direct: z.array(directAddress).max(MAX_DIRECT) })
            .strict(),
        )
        .max(MAX_FOUND_DEVICES),
    })
    .strict(),
  z.object({ type: z.literal('paired'), peer: identityField }).strict(),
  z
    .object({
      type: z.literal('error'),
      code: z.string().max(64),
      message: z.string().max(MAX_ERROR_MESSAGE_CHARS),
    })
    .strict(),
]);
export type RelayMessage = z.output<typeof relayMessageSchema>;

export type ClientMessage = Opening | z.output<typeof listenerSchema>;

/** One control frame: u16 big-endian length, then the message as UTF-8 JSON. */
export function encodeFrame(
  message: RelayMessage | ClientMessage,
  max: number = MAX_FRAME_BYTES,
): Buffer {
  const body = utf8(JSON.stringify(message));
  if (body.length === 0 || body.length > max) {
    throw new RangeError(`this relay frame holds 1 to ${max} bytes`);
  }
  const head = Buffer.alloc(2);
  head.writeUInt16BE(body.length);
  return concatBytes(head, body);
}

/**
 * Cuts a byte stream into control frames. Holds at most one frame plus what arrived with it;
 * `rest()` hands back the bytes after the last frame taken, which belong to the raw phase.
 */
export class FrameReader {
  private buffer: Buffer = Buffer.alloc(0);

  /** `max`: the largest frame body accepted (MAX_FRAME_BYTES from devices). */
  constructor(private readonly max: number = MAX_FRAME_BYTES) {}

  push(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
  }

  /** The next whole frame's JSON value, or undefined until one has arrived. */
  next(): unknown {
    if (this.buffer.length < 2) return undefined;
    const length = this.buffer.readUInt16BE(0);
    if (length === 0 || length > this.max) {
      fail(
        'bad_relay_request',
        `a control frame announces ${length} bytes (1 to ${this.max} allowed)`,
      );
    }
    if (this.buffer.length < 2 + length) return undefined;
    const body = this.buffer.subarray(2, 2 + length);
    this.buffer = this.buffer.subarray(2 + length);
    try {
      return JSON.parse(body.toString('utf8')) as unknown;
    } catch {
      fail('bad_relay_request', 'a control frame is not a JSON object');
    }
  }

  /** Bytes held: a partial frame, or what came after the frames taken. */
  get buffered(): number {
    return this.buffer.length;
  }

  /** Bytes received after the frames taken so far. */
  rest(): Buffer {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    return rest;
  }
}

/** Parses a value against a message schema; anything else is bad_relay_request. */
export function parseMessage<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new P2PError('bad_relay_request', `${what}: ${describeIssues(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * The identity text in its one canonical spelling and its Ed25519 key. Caps are counted per
 * signing key: an identity text with another encryption half is still the same signer.
 */
export function parseDeviceIdentity(text: string): { text: string; signingKey: Buffer } {
  let bytes: Buffer;
  try {
    bytes = decodeKeyText(text, ['identity']).bytes;
  } catch (error) {
    throw new P2PError(
      'relay_auth_failed',
      `the identity is not a device identity text: ${(error as Error).message}`,
    );
  }
  return { text: encodeKeyText('identity', bytes), signingKey: bytes.subarray(0, 32) };
}

/**
 * What a leg signs: the domain, the relay's id and challenge nonce (so an answer is good for
 * one connection to one relay only) and the role (so an answer for one role cannot be used
 * for another). Lengths are prefixed: no two inputs give the same bytes.
 */
export function authMessage(relay: string, nonce: Uint8Array, role: Role): Buffer {
  const relayBytes = utf8(relay);
  const roleBytes = utf8(role);
  return concatBytes(
    utf8(AUTH_DOMAIN),
    Buffer.from([relayBytes.length]),
    relayBytes,
    nonce,
    Buffer.from([roleBytes.length]),
    roleBytes,
  );
}
