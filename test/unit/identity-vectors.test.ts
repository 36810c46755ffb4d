/**
 * docs/vectors/identity.json (written once by scripts/identity-vectors.mjs) against the
 * implementation: every value is recomputed from the file's fixed inputs, the constructions of
 * docs/identity.md are rebuilt here from the document where they are short, and the last test
 * checks that no value of the file went unread, so a vector cannot silently stop being checked.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { signingKeyPairFromSeed, verify } from '../../src/crypto/ed25519.js';
import { deriveKeyPair, setupSender } from '../../src/crypto/hpke.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { decodeKeyText } from '../../src/encoding/key-text.js';
import { certBody, directoryKeys } from '../../src/identity/directory.js';
import {
  decodeGroupKeys,
  encodeGroupKeys,
  epochKeysForReader,
  epochKeysFromSecret,
  epochPublic,
  matchesEpoch,
  openPackage,
  packagePlaintext,
  sealPackage,
  type PackageContent,
} from '../../src/identity/epoch.js';
import { createLinkCode, linkKeys, parseLinkCode } from '../../src/identity/link-code.js';
import {
  decodeStatement,
  encodeStatement,
  signStatement,
  statementMessage,
  type StatementKind,
} from '../../src/identity/statement.js';
import { identityText, tableText, type Identity } from '../../src/keys/keys.js';
import { VectorDoc } from '../helpers/vector-doc.js';

const vectors = new VectorDoc('identity.json');
const value = (path: string) => vectors.value(path);
const str = (path: string) => vectors.str(path);
const num = (path: string) => vectors.num(path);
const bytes = (path: string) => vectors.bytes(path);

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function lp(text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(body.length);
  return Buffer.concat([length, body]);
}

function u64(n: number): Buffer {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(BigInt(n));
  return out;
}

function identityOf(prefix: 'person' | 'device'): Identity {
  const identity = {
    signing: signingKeyPairFromSeed(bytes(`${prefix}.signing_seed`)),
    box: boxKeyPairFromSecret(bytes(`${prefix}.box_secret`)),
  };
  assert.equal(hex(identity.signing.publicKey), str(`${prefix}.signing_public`));
  assert.equal(hex(identity.box.publicKey), str(`${prefix}.box_public`));
  assert.equal(identityText(identity), str(`${prefix}.text`));
  return identity;
}

test('identity vectors: the person and the device derive from their seeds', () => {
  identityOf('person');
  identityOf('device');
});

test('identity vectors: a device certificate, its signed message, signature and hash (§2)', () => {
  const person = identityOf('person');
  const device = identityOf('device');
  const personText = identityText(person);
  assert.equal(str('statement.person'), personText);
  assert.equal(str('statement.signer'), personText);
  const body = str('statement.body_utf8');
  assert.equal(body, JSON.stringify(certBody(identityText(device), 'phone')));

  const signed = signStatement({
    kind: str('statement.kind') as StatementKind,
    person: personText,
    signer: person,
    seq: num('statement.seq'),
    at: num('statement.at'),
    body: JSON.parse(body) as Record<string, unknown>,
  });
  assert.equal(signed.body, body);

  // The message of §2, built here from the document.
  const identityBytes = Buffer.concat([person.signing.publicKey, person.box.publicKey]);
  const message = Buffer.concat([
    Buffer.from('p2pcloud/v1/statement'),
    lp(signed.kind),
    identityBytes,
    identityBytes,
    u64(signed.seq),
    u64(signed.at),
    lp(body),
  ]);
  assert.equal(hex(message), str('statement.message'));
  assert.equal(hex(statementMessage(signed)), hex(message));
  assert.equal(signed.sig, str('statement.sig'));
  assert.ok(verify(bytes('statement.sig'), message, person.signing.publicKey));
  const hash = sha256(Buffer.from('p2pcloud/v1/statement-hash'), message, bytes('statement.sig'));
  assert.equal(hex(hash), str('statement.hash'));
  assert.equal(signed.hash, hex(hash));

  const text = str('statement.text_utf8');
  assert.equal(encodeStatement(signed), text);
  const decoded = decodeStatement(text);
  assert.ok(decoded);
  assert.equal(decoded.hash, hex(hash));
});

test('identity vectors: the directory of the person (§3.1)', () => {
  const person = str('directory.person');
  assert.equal(person, identityText(identityOf('person')));
  const keys = directoryKeys(person);
  assert.equal(hex(keys.table.signing.seed), str('directory.table_seed'));
  assert.equal(hex(keys.table.signing.publicKey), str('directory.table_public'));
  assert.equal(tableText(keys.table), str('directory.table_text'));
  assert.equal(hex(keys.reader.secretKey), str('directory.reader_secret'));
  assert.equal(hex(keys.reader.publicKey), str('directory.reader_public'));
});

test('identity vectors: a link code and its link space (§3.4)', () => {
  const secret = bytes('link.secret');
  const expiresAt = num('link.expires_at');
  const code = createLinkCode(secret, expiresAt);
  assert.equal(code, str('link.code'));
  assert.equal(hex(decodeKeyText(code, ['link']).bytes), str('link.data'));
  assert.equal(str('link.data'), `${hex(secret)}${expiresAt.toString(16).padStart(8, '0')}`);
  const parsed = parseLinkCode(code.toUpperCase());
  assert.deepEqual(parsed, { secret, expiresAt });
  const keys = linkKeys(secret);
  assert.equal(hex(keys.table.signing.seed), str('link.table_seed'));
  assert.equal(hex(keys.table.signing.publicKey), str('link.table_public'));
  assert.equal(hex(keys.reader.secretKey), str('link.reader_secret'));
  assert.equal(hex(keys.reader.publicKey), str('link.reader_public'));
});

test('identity vectors: the group id and the epoch key schedule (§5.2, §5.3)', () => {
  const owner = str('epoch.owner');
  assert.equal(owner, identityText(identityOf('person')));
  const group = hex(
    sha256(
      Buffer.from('p2pcloud/v1/group-id'),
      decodeKeyText(owner, ['identity']).bytes,
      bytes('epoch.nonce'),
    ).subarray(0, 16),
  );
  assert.equal(group, str('epoch.group'));

  const keys = epochKeysFromSecret(group, bytes('epoch.epoch_secret'));
  assert.equal(hex(keys.table.signing.seed), str('epoch.table_seed'));
  assert.equal(hex(keys.reader.secretKey), str('epoch.reader_secret'));
  assert.equal(hex(keys.controlSecret), str('epoch.control_secret'));
  assert.equal(hex(keys.control.table.signing.seed), str('epoch.control_table_seed'));
  assert.equal(hex(keys.control.reader.secretKey), str('epoch.control_reader_secret'));
  const pub = epochPublic(keys);
  for (const member of ['table', 'reader', 'control_table', 'control_reader'] as const) {
    assert.equal(pub[member], str(`epoch.public.${member}`), member);
  }
  const reader = epochKeysForReader(
    group,
    bytes('epoch.reader_secret'),
    bytes('epoch.control_secret'),
  );
  assert.equal(matchesEpoch(reader, pub), true);
});

test('identity vectors: key packages sealed with fixed ephemeral keys (§5.4)', () => {
  const recipients = { person: identityOf('person'), device: identityOf('device') };
  const group = str('epoch.group');
  const op = str('packages.op');
  const earlier = epochKeysFromSecret(group, bytes('packages.history.epoch_secret'));
  const contents: Record<string, PackageContent> = {
    writer: { epochSecret: bytes('epoch.epoch_secret') },
    'reader with history': {
      readerSecret: bytes('epoch.reader_secret'),
      controlSecret: bytes('epoch.control_secret'),
      history: [
        {
          epoch: str('packages.history.epoch'),
          readerSecret: earlier.reader.secretKey,
          controlSecret: earlier.controlSecret,
        },
      ],
    },
  };
  const cases = value('packages.cases') as unknown[];
  assert.equal(cases.length, 2);
  const sealed: { to: Buffer; ct: string }[] = [];
  for (let i = 0; i < cases.length; i++) {
    const at = (member: string): string => `packages.cases.${i}.${member}`;
    const content = contents[str(at('name'))];
    assert.ok(content, str(at('name')));
    const recipient = recipients[str(at('recipient')) as 'person' | 'device'];
    assert.ok(recipient);
    assert.equal(str(at('to')), hex(recipient.box.publicKey));

    const ephemeral = deriveKeyPair(bytes(at('ephemeral.ikm')));
    assert.equal(hex(ephemeral.secretKey), str(at('ephemeral.secret')));
    assert.equal(hex(ephemeral.publicKey), str(at('ephemeral.public')));

    const info = Buffer.concat([
      Buffer.from('p2pcloud/v1/epoch-package'),
      Buffer.from(group, 'hex'),
      Buffer.from(op, 'hex'),
    ]);
    assert.equal(hex(info), str(at('info')));
    const plaintext = packagePlaintext(content);
    assert.equal(plaintext.toString('utf8'), str(at('plaintext_utf8')));

    const { context } = setupSender(recipient.box.publicKey, { info, ephemeral });
    assert.equal(hex(context.keySchedule.sharedSecret), str(at('shared_secret')));
    assert.equal(hex(context.keySchedule.key), str(at('key')));
    assert.equal(hex(context.keySchedule.baseNonce), str(at('base_nonce')));
    // enc || Seal(aad = empty, plaintext), in base64.
    const expected = Buffer.concat([ephemeral.publicKey, context.seal(Buffer.alloc(0), plaintext)]);
    const ct = str(at('ct_base64'));
    assert.equal(expected.toString('base64'), ct);
    assert.equal(sealPackage(group, op, recipient.box.publicKey, content, ephemeral), ct);
    assert.deepEqual(openPackage(group, op, recipient.box, ct), content);
    sealed.push({ to: recipient.box.publicKey, ct });
  }

  const objects = encodeGroupKeys(group, op, sealed);
  assert.equal(objects.length, 1);
  const text = str('group_keys_utf8');
  assert.equal(objects[0]!.toString('utf8'), text);
  assert.deepEqual(decodeGroupKeys(Buffer.from(text)), { group, epoch: op, packages: sealed });
});

test('identity vectors: every value of the file was checked', () => {
  vectors.assertAllRead(60);
});
