/**
 * Linking a device (docs/identity.md §3.4). The existing device hands out a code and watches
 * the code's link space; the new device posts a request there and waits for the answer sealed
 * to its own key. A code links one device: it is marked used in the index before the answer
 * leaves, so a second request (from anyone) is refused even across a restart.
 */
import { randomBytes } from '../../crypto/random.js';
import { openEntry } from '../../entry/open.js';
import { P2PError, isErrorCode } from '../../errors.js';
import { fromHex, toHex } from '../../encoding/bytes.js';
import { certBody, isDeviceName } from '../../identity/directory.js';
import { createLinkCode, linkKeys, parseLinkCode } from '../../identity/link-code.js';
import {
  decodeStatement,
  encodeStatement,
  identityKeyBytes,
  signStatement,
  type Statement,
} from '../../identity/statement.js';

type Decoded = Statement & { bodyObject: Record<string, unknown> };
import { identityText, type Identity } from '../../keys/keys.js';
import type { Logger } from 'pino';
import type { Client, VerifiedEntry } from '../../client/client.js';
import type { Keyring } from '../keyring.js';
import type { PublishItem } from '../publish.js';
import type { ReadChannel } from './channel.js';
import type { Directories } from './directories.js';
import type { Groups } from './groups.js';
import { saveProfile, type DeviceProfile } from './profile.js';
import type { IdentityStore } from './store.js';

/** What linking needs of the identity layer (layer.ts), which owns the links. */
export interface LinkHost {
  readonly store: IdentityStore;
  readonly keyring: Keyring;
  readonly client: Client;
  readonly directories: Directories;
  readonly groups: Groups;
  readonly dataDir: string;
  profile: DeviceProfile | undefined;
  personOf(identity: string): string;
  publish(items: readonly PublishItem[]): Promise<unknown>;
  publishDirectory(statement: Statement, also?: readonly PublishItem[]): Promise<void>;
  readDirectories(persons: readonly string[]): Promise<void>;
  commit(actor: Identity, group: string, input: { op: 'rekey' }): Promise<string>;
  ingestChannel(channel: ReadChannel, entry: VerifiedEntry): unknown;
  readonly log: Logger;
}

export const DEFAULT_LINK_TTL_SECONDS = 600;
/**
 * While a code is unused and unexpired, its link space is read this often besides the poll
 * rounds: the new device is waiting, and the poll interval may be seconds.
 */
export const LINK_WATCH_MS = 250;
/** Bounds of the new device's wait before its first read for the answer (see accept()). */
export const ANSWER_FIRST_READ_MIN_MS = 500;
export const ANSWER_FIRST_READ_MAX_MS = 5000;
export const ANSWER_READ_EVERY_MS = 500;
/** Requests answered already (a request is read by the watch and by poll rounds). */
const ANSWERED_MAX = 1024;
export function checkDeviceName(name: unknown): string {
  if (typeof name !== 'string' || !isDeviceName(name.trim())) {
    throw new P2PError('bad_request', 'a device name is 1-64 characters');
  }
  return name.trim();
}

export class Links {
  private readonly requests: { secret: string; statement: Decoded }[] = [];
  private readonly answered = new Set<string>();
  private watching: NodeJS.Timeout | undefined;

  constructor(private readonly layer: LinkHost) {
    // Codes handed out before a restart are still watched.
    this.watch();
  }

  /** Reads the open codes' link spaces every LINK_WATCH_MS until none is left open. */
  watch(): void {
    if (this.watching) return;
    const tick = async (): Promise<void> => {
      let open: string[];
      try {
        const now = Date.now();
        open = this.layer.store
          .openLinks(now)
          .filter((row) => row.expiresAt > now)
          .map((row) => row.secret);
      } catch {
        // The index is closed: the gateway stopped.
        this.watching = undefined;
        return;
      }
      if (open.length === 0) {
        this.watching = undefined;
        return;
      }
      try {
        await this.readLinks(open);
        await this.settle();
      } catch (error) {
        this.layer.log.warn({ err: error }, 'reading link spaces failed');
      }
      this.watching = setTimeout(() => void tick(), LINK_WATCH_MS);
      this.watching.unref();
    };
    this.watching = setTimeout(() => void tick(), LINK_WATCH_MS);
    this.watching.unref();
  }

  private async readLinks(secrets: readonly string[]): Promise<void> {
    const channels = new Map(
      this.channels()
        .filter((c) => secrets.includes(c.ref))
        .map((c) => [toHex(c.table), c]),
    );
    if (channels.size === 0) return;
    const result = await this.layer.client.get({
      tables: [...channels.values()].map((c) => c.table),
      since: 0,
      order: 'asc',
      limit: 64,
    });
    for (const entry of result.entries) {
      const channel = channels.get(toHex(entry.table));
      if (channel) this.layer.ingestChannel(channel, entry);
    }
  }

  /** The link spaces of outstanding codes (watched until a while after they expire). */
  channels(): ReadChannel[] {
    return this.layer.store.watchedLinks(Date.now()).map((row) => {
      const keys = linkKeys(Buffer.from(row.secret, 'hex'));
      return {
        kind: 'link',
        ref: row.secret,
        table: keys.table.signing.publicKey,
        reader: keys.reader,
      };
    });
  }

  /** Hands out a code for a new device of the actor's person. */
  create(
    actor: Identity,
    ttlSeconds = DEFAULT_LINK_TTL_SECONDS,
  ): { code: string; expiresAt: number } {
    const secret = randomBytes(16);
    const expiresAt = Math.floor(Date.now() / 1000) + ttlSeconds;
    this.layer.store.addLink({
      secret: toHex(secret),
      identity: identityText(actor),
      name: '',
      expiresAt: expiresAt * 1000,
      createdAt: Date.now(),
      usedBy: null,
    });
    this.watch();
    return { code: createLinkCode(secret, expiresAt), expiresAt: expiresAt * 1000 };
  }

  /** A request read from a link space (answered in settle(), once). */
  request(secret: string, statement: Decoded): void {
    if (statement.signer !== statement.person) return;
    if (this.answered.has(statement.hash)) return;
    if (this.requests.some((r) => r.statement.hash === statement.hash)) return;
    if (this.requests.length < 64) this.requests.push({ secret, statement });
  }

  async settle(): Promise<void> {
    const requests = this.requests.splice(0);
    if (this.answered.size + requests.length > ANSWERED_MAX) this.answered.clear();
    // Marked before the first await: a settle running meanwhile does not answer them again.
    for (const { statement } of requests) this.answered.add(statement.hash);
    for (let i = 0; i < requests.length; i++) {
      try {
        await this.answerRequest(requests[i]!.secret, requests[i]!.statement);
      } catch (error) {
        // Not answered: the next read of these requests tries again.
        for (const r of requests.slice(i)) this.answered.delete(r.statement.hash);
        throw error;
      }
    }
  }

  private async answerRequest(secret: string, request: Decoded): Promise<void> {
    const row = this.layer.store.link(secret);
    if (!row) return;
    const actor = this.layer.keyring.identity(row.identity);
    if (!actor) return;
    const person = this.layer.personOf(row.identity);
    const device = request.signer;
    const keys = linkKeys(Buffer.from(secret, 'hex'));
    let body: Record<string, unknown>;
    let left: string[] = [];
    let cert: Statement | undefined;
    let name = 'device';
    try {
      name = checkDeviceName(request.bodyObject.name);
    } catch {
      // A request without a usable name still links; the device is called "device".
    }
    if (row.usedBy !== null && row.usedBy !== device) {
      body = {
        ok: false,
        error: 'link_code_used',
        message: 'this link code has linked another device already: make a new one',
      };
    } else if (Date.now() > row.expiresAt || request.at > row.expiresAt) {
      body = {
        ok: false,
        error: 'link_code_expired',
        message: 'this link code has expired: make a new one on the linking device',
      };
    } else {
      if (row.usedBy === null && !this.layer.store.useLink(secret, device))
        return this.answerRequest(secret, request);
      cert = signStatement({
        kind: 'device-cert',
        person,
        signer: actor,
        seq: this.layer.store.nextSeq(row.identity),
        at: Date.now(),
        body: certBody(device, name),
      });
      const granted = this.layer.groups.grants(person);
      body = { ok: true, cert: encodeStatement(cert), grants: granted.grants };
      left = granted.left;
    }
    const answer = signStatement({
      kind: 'link-answer',
      person,
      signer: actor,
      seq: this.layer.store.nextSeq(row.identity),
      at: Date.now(),
      body,
    });
    const to = identityKeyBytes(device).subarray(32, 64);
    const item = {
      table: keys.table,
      to,
      plaintext: Buffer.from(encodeStatement(answer)),
      createdAt: answer.at,
    };
    // One put: the certificate is on the nodes when the new device reads the answer.
    if (cert) await this.layer.publishDirectory(cert, [item]);
    else await this.layer.publish([item]);
    // Groups whose keys did not fit the answer reach the new device by a rekey's welcome.
    for (const group of left) await this.layer.commit(actor, group, { op: 'rekey' });
  }

  /**
   * On the new device: posts the request and waits for the answer (reading the link space
   * addressed to itself), then checks the certificate against the person's directory.
   */
  async accept(
    device: Identity,
    code: string,
    name: string,
    waitMs: number,
  ): Promise<{ person: string; device: string; groups: number; requests: number }> {
    if (this.layer.profile)
      throw new P2PError(
        'already_linked',
        `this device is linked to ${this.layer.profile.person} already`,
      );
    const { secret, expiresAt } = parseLinkCode(code);
    if (Date.now() > expiresAt * 1000) {
      throw new P2PError(
        'link_code_expired',
        'this link code has expired: make a new one on the linking device',
      );
    }
    const keys = linkKeys(secret);
    const deviceText = identityText(device);
    const request = signStatement({
      kind: 'link-request',
      person: deviceText,
      signer: device,
      seq: this.layer.store.nextSeq(deviceText),
      at: Date.now(),
      body: { name: checkDeviceName(name) },
    });
    let requests = 0;
    const stamping = Date.now();
    await this.layer.publish([
      {
        table: keys.table,
        to: keys.reader.publicKey,
        plaintext: Buffer.from(encodeStatement(request)),
        createdAt: request.at,
      },
    ]);
    requests += 1;
    const stamped = Date.now() - stamping;
    const deadline = Date.now() + waitMs;
    let answer: Decoded | undefined;
    // The linking device sees the request within LINK_WATCH_MS, then stamps and puts two
    // entries (certificate, answer) as this device just did one: the first read comes after
    // that, with a watch interval and one more stamping to spare, so that it normally finds
    // the answer.
    await sleep(
      Math.min(
        ANSWER_FIRST_READ_MAX_MS,
        Math.max(ANSWER_FIRST_READ_MIN_MS, 2 * LINK_WATCH_MS + 3 * stamped),
      ),
    );
    while (!answer && Date.now() < deadline) {
      const result = await this.layer.client.get({
        tables: [keys.table.signing.publicKey],
        recipients: [device.box.publicKey],
        since: 0,
        order: 'asc',
        limit: 20,
      });
      requests += 1;
      for (const entry of result.entries) {
        const plaintext = openEntry(entry.entry, device.box);
        const statement = plaintext ? decodeStatement(plaintext.toString('utf8')) : undefined;
        if (statement?.kind === 'link-answer' && statement.at >= request.at - 60_000)
          answer = statement;
      }
      if (!answer) await sleep(ANSWER_READ_EVERY_MS);
    }
    if (!answer) {
      throw new P2PError(
        'link_timeout',
        'the linking device did not answer: is its gateway running and reading the same nodes?',
      );
    }
    const body = answer.bodyObject;
    if (body.ok !== true) {
      const code =
        typeof body.error === 'string' && isErrorCode(body.error) ? body.error : 'bad_link_code';
      throw new P2PError(
        code,
        typeof body.message === 'string' ? body.message.slice(0, 300) : undefined,
      );
    }
    const cert = typeof body.cert === 'string' ? decodeStatement(body.cert) : undefined;
    if (
      !cert ||
      cert.kind !== 'device-cert' ||
      cert.person !== answer.person ||
      cert.bodyObject.device !== deviceText
    ) {
      throw new P2PError(
        'bad_link_code',
        'the answer to this link code does not certify this device',
      );
    }
    const person = answer.person;
    // Signed by the root itself, the answer and certificate need nothing else to be believed;
    // signed by another device, that device's own certificate is in the directory.
    if (answer.signer !== person || cert.signer !== person) {
      await this.layer.readDirectories([person]);
      requests += 1;
      const state = this.layer.directories.state(person);
      if (!state.accepts(answer.signer, answer.at, answer.seq) || !state.isActive(deviceText)) {
        throw new P2PError(
          'bad_link_code',
          'the answer to this link code is not from a device of its person',
        );
      }
    }
    this.layer.profile = { person, cert };
    await saveProfile(this.layer.dataDir, this.layer.profile);
    this.layer.directories.follow(person);
    let groups = 0;
    for (const grant of Array.isArray(body.grants) ? body.grants.slice(0, 1000) : []) {
      const parsed = parseGrant(grant);
      if (!parsed) continue;
      this.layer.groups.acceptGrant(parsed);
      groups += 1;
    }
    return { person, device: deviceText, groups, requests };
  }
}
function parseGrant(value: unknown):
  | {
      group: string;
      epochs: {
        epoch: string;
        epochSecret?: Buffer;
        readerSecret: Buffer;
        controlSecret: Buffer;
      }[];
    }
  | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const grant = value as Record<string, unknown>;
  if (typeof grant.group !== 'string' || !/^[0-9a-f]{32}$/.test(grant.group)) return undefined;
  if (!Array.isArray(grant.epochs)) return undefined;
  const epochs = grant.epochs.slice(0, 10_000).flatMap((e: unknown) => {
    if (typeof e !== 'object' || e === null) return [];
    const item = e as Record<string, unknown>;
    const epoch =
      typeof item.epoch === 'string' && /^[0-9a-f]{64}$/.test(item.epoch) ? item.epoch : undefined;
    const reader =
      typeof item.reader_secret === 'string' ? fromHex(item.reader_secret, 32) : undefined;
    const control =
      typeof item.control_secret === 'string' ? fromHex(item.control_secret, 32) : undefined;
    const secret =
      typeof item.epoch_secret === 'string' ? fromHex(item.epoch_secret, 32) : undefined;
    if (!epoch || !reader || !control) return [];
    return [
      {
        epoch,
        readerSecret: reader,
        controlSecret: control,
        ...(secret ? { epochSecret: secret } : {}),
      },
    ];
  });
  return { group: grant.group, epochs };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
