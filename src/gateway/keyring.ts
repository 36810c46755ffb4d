/**
 * The keys a gateway holds, and who may use which: its own identity (--key), identities
 * registered by local browsers, the personal space of each, the private spaces they created or
 * joined, and public spaces that apps add. Secrets live under <data>/keys (mode 0700) in files
 * of mode 0600: identities/<signing key hex>.json and spaces/<space id>.json.
 */
import { chmod, mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { P2PError } from '../errors.js';
import { writeSecretFile } from '../keys/key-file.js';
import { identityText, parseIdentity, serializeIdentity, type Identity } from '../keys/keys.js';
import { toHex } from '../encoding/bytes.js';
import { parseSpace, personalSpace, serializeSpace, type Space } from './space.js';

/** Identities a gateway holds at most, its own included. */
export const MAX_IDENTITIES = 64;

export async function privateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: 0o700 });
  await chmod(path, 0o700);
}

/** Writes a 0600 file through a temporary name, so a crash never leaves half a key file. */
async function replaceSecretFile(path: string, text: string): Promise<void> {
  const temporary = `${path}.tmp`;
  await writeSecretFile(temporary, text, true);
  await rename(temporary, path);
}

/** Where the spaces of groups come from (identity/groups.ts): they are not key files. */
export interface GroupSource {
  space(id: string, member: string): Space | undefined;
  spacesOf(member: string): Space[];
}

export class Keyring {
  private readonly identitiesByText = new Map<string, Identity>();
  private readonly spaces = new Map<string, Space>();
  private groups: GroupSource | undefined;
  readonly defaultText: string;

  private constructor(
    private readonly dir: string,
    readonly defaultIdentity: Identity,
  ) {
    this.defaultText = identityText(defaultIdentity);
    this.addIdentity(defaultIdentity);
  }

  static async open(dataDir: string, defaultIdentity: Identity): Promise<Keyring> {
    const dir = join(dataDir, 'keys');
    await privateDir(dir);
    await privateDir(join(dir, 'identities'));
    await privateDir(join(dir, 'spaces'));
    const keyring = new Keyring(dir, defaultIdentity);
    for (const name of (await readdir(join(dir, 'identities'))).sort()) {
      if (!name.endsWith('.json')) continue;
      keyring.addIdentity(parseIdentity(await readFile(join(dir, 'identities', name), 'utf8')));
    }
    for (const name of (await readdir(join(dir, 'spaces'))).sort()) {
      if (!name.endsWith('.json')) continue;
      const space = parseSpace(await readFile(join(dir, 'spaces', name), 'utf8'));
      keyring.spaces.set(space.id, space);
    }
    return keyring;
  }

  private addIdentity(identity: Identity): void {
    const text = identityText(identity);
    if (this.identitiesByText.has(text)) return;
    this.identitiesByText.set(text, identity);
    const personal = personalSpace(identity);
    this.spaces.set(personal.id, personal);
  }

  identity(text: string): Identity | undefined {
    return this.identitiesByText.get(text);
  }

  identities(): Identity[] {
    return [...this.identitiesByText.values()];
  }

  /** Stores an identity registered by a local browser; false if the gateway already held it. */
  async registerIdentity(identity: Identity): Promise<boolean> {
    const text = identityText(identity);
    if (this.identitiesByText.has(text)) return false;
    // Registering is open to any local process (browsers cannot hold the API key), and every
    // identity costs a read per node and poll: their number is bounded.
    if (this.identitiesByText.size >= MAX_IDENTITIES) {
      throw new P2PError(
        'forbidden',
        `this gateway holds ${MAX_IDENTITIES} identities already: it takes no more`,
      );
    }
    const path = join(this.dir, 'identities', `${toHex(identity.signing.publicKey)}.json`);
    await replaceSecretFile(path, serializeIdentity(identity));
    this.addIdentity(identity);
    return true;
  }

  personalSpaceOf(identity: Identity): Space {
    return this.spaces.get(personalSpace(identity).id)!;
  }

  attachGroups(source: GroupSource): void {
    this.groups = source;
  }

  /** Every space of key files and apps (the poller reads them all; groups are read apart). */
  allSpaces(): Space[] {
    return [...this.spaces.values()];
  }

  /** A space by id, if `member` (identity text) may use it. */
  space(id: string, member: string): Space | undefined {
    const space = this.spaces.get(id);
    if (!space) return this.groups?.space(id, member);
    return space.members === undefined || space.members.has(member) ? space : undefined;
  }

  anySpace(id: string): Space | undefined {
    return this.spaces.get(id);
  }

  spacesOf(member: string): Space[] {
    return [
      ...this.allSpaces().filter((s) => s.members === undefined || s.members.has(member)),
      ...(this.groups?.spacesOf(member) ?? []),
    ];
  }

  /** Adds a public space (kept in memory: its keys are derived again at every start). */
  addPublic(space: Space): void {
    if (!this.spaces.has(space.id)) this.spaces.set(space.id, space);
  }

  /** Adds or updates a private space and writes its key file. */
  async savePrivate(space: Space): Promise<void> {
    this.spaces.set(space.id, space);
    await replaceSecretFile(join(this.dir, 'spaces', `${space.id}.json`), serializeSpace(space));
  }
}
