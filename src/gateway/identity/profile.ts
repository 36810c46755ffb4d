/**
 * Which person the gateway's own identity speaks for. A gateway started with a root identity
 * is its own person; one linked from another device keeps, in <data>/device.json (mode 0600),
 * the person it was linked to and the certificate that says so:
 *
 *   { "kind": "p2pcloud-device", "version": 1, "person": "p2pid1…", "cert": "<statement text>" }
 */
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { fail } from '../../errors.js';
import { writeSecretFile } from '../../keys/key-file.js';
import { decodeStatement, encodeStatement, type Statement } from '../../identity/statement.js';

export interface DeviceProfile {
  readonly person: string;
  readonly cert: Statement;
}

const profileSchema = z
  .object({
    kind: z.literal('p2pcloud-device'),
    version: z.literal(1),
    person: z.string(),
    cert: z.string(),
  })
  .strict();

export function profilePath(dataDir: string): string {
  return join(dataDir, 'device.json');
}

export async function loadProfile(dataDir: string): Promise<DeviceProfile | undefined> {
  const path = profilePath(dataDir);
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    fail('bad_key_file', `${path} is not JSON`);
  }
  const parsed = profileSchema.safeParse(value);
  const cert = parsed.success ? decodeStatement(parsed.data.cert) : undefined;
  if (
    !parsed.success ||
    !cert ||
    cert.kind !== 'device-cert' ||
    cert.person !== parsed.data.person
  ) {
    fail('bad_key_file', `${path} is not a device profile`);
  }
  return { person: parsed.data.person, cert };
}

export async function saveProfile(dataDir: string, profile: DeviceProfile): Promise<void> {
  const path = profilePath(dataDir);
  const text = `${JSON.stringify(
    {
      kind: 'p2pcloud-device',
      version: 1,
      person: profile.person,
      cert: encodeStatement(profile.cert),
    },
    null,
    2,
  )}\n`;
  await writeSecretFile(`${path}.tmp`, text, true);
  await rename(`${path}.tmp`, path);
}
