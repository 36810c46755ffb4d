#!/usr/bin/env node
// Writes docs/vectors/identity.json (docs/identity.md §1.1) from fixed keys, times and HPKE
// ephemeral keys, using the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/identity-vectors.test.ts recomputes every value. The vectors are written once: a
// file whose content would change is refused unless --force is given, because a changed
// vector means a changed format.
//
//   node scripts/identity-vectors.mjs           write the file if missing, else check it
//   node scripts/identity-vectors.mjs --force   overwrite (only when the format is meant to change)
import { dist, writeVectors } from './lib/vector-file.mjs';
import { fill, hex, identityOf } from './lib/seeded-identity.mjs';

const { deriveKeyPair, setupSender } = await dist('crypto/hpke.js');
const { sha256 } = await dist('crypto/sha256.js');
const { tableText } = await dist('keys/keys.js');
const { signStatement, statementMessage, encodeStatement } = await dist('identity/statement.js');
const { certBody, directoryKeys } = await dist('identity/directory.js');
const { createLinkCode, linkKeys } = await dist('identity/link-code.js');
const { epochKeysFromSecret, epochPublic, sealPackage, packagePlaintext, encodeGroupKeys } =
  await dist('identity/epoch.js');

const person = identityOf(fill(0x01, 32), fill(0x02, 32), { publicKeys: true });
const device = identityOf(fill(0x03, 32), fill(0x04, 32), { publicKeys: true });

// A device certificate signed by the root: §2 and §3.2.
const cert = signStatement({
  kind: 'device-cert',
  person: person.vector.text,
  signer: person.identity,
  seq: 1,
  at: 1_767_225_600_000,
  body: certBody(device.vector.text, 'phone'),
});

const directory = directoryKeys(person.vector.text);

const linkSecret = fill(0x05, 16);
const linkExpires = 1_767_229_200;
const linkExpiresBytes = Buffer.alloc(4);
linkExpiresBytes.writeUInt32BE(linkExpires);
const link = linkKeys(linkSecret);

// The group of §5.3 created by the person with a fixed nonce, and one operation's epoch.
const groupNonce = fill(0x06, 16);
const group = hex(
  sha256(
    Buffer.from('p2pcloud/v1/group-id'),
    Buffer.concat([person.identity.signing.publicKey, person.identity.box.publicKey]),
    groupNonce,
  ).subarray(0, 16),
);
const epochSecret = fill(0x07, 32);
const op = hex(fill(0x08, 32));
const epoch = epochKeysFromSecret(group, epochSecret);

function packageVector(name, recipient, ephemeralIkm, content) {
  const ephemeral = deriveKeyPair(ephemeralIkm);
  const to = (recipient === 'person' ? person : device).identity.box.publicKey;
  const info = Buffer.concat([
    Buffer.from('p2pcloud/v1/epoch-package'),
    Buffer.from(group, 'hex'),
    Buffer.from(op, 'hex'),
  ]);
  const { context } = setupSender(to, { info, ephemeral });
  const ct = sealPackage(group, op, to, content, ephemeral);
  return {
    name,
    recipient,
    to: hex(to),
    ephemeral: {
      ikm: hex(ephemeralIkm),
      secret: hex(ephemeral.secretKey),
      public: hex(ephemeral.publicKey),
    },
    info: hex(info),
    plaintext_utf8: packagePlaintext(content).toString('utf8'),
    shared_secret: hex(context.keySchedule.sharedSecret),
    key: hex(context.keySchedule.key),
    base_nonce: hex(context.keySchedule.baseNonce),
    ct_base64: ct,
  };
}

const earlierSecret = fill(0x0b, 32);
const earlierOp = hex(fill(0x0c, 32));
const earlier = epochKeysFromSecret(group, earlierSecret);
const packages = [
  packageVector('writer', 'person', fill(0x09, 32), { epochSecret }),
  packageVector('reader with history', 'device', fill(0x0a, 32), {
    readerSecret: epoch.reader.secretKey,
    controlSecret: epoch.controlSecret,
    history: [
      {
        epoch: earlierOp,
        readerSecret: earlier.reader.secretKey,
        controlSecret: earlier.controlSecret,
      },
    ],
  }),
];
const groupKeys = encodeGroupKeys(
  group,
  op,
  packages.map((p) => ({ to: Buffer.from(p.to, 'hex'), ct: p.ct_base64 })),
);
if (groupKeys.length !== 1) throw new Error('the two packages should fit one group-keys object');

const vectors = {
  description:
    'Identity layer (docs/identity.md) from fixed keys: a signed statement, directory keys, ' +
    'a link code and its link space, the epoch key schedule, two key packages sealed with ' +
    'fixed HPKE ephemeral keys, and the group-keys object holding them. Binary values are ' +
    'lowercase hex unless the member name says otherwise. Test keys only: never use them.',
  person: person.vector,
  device: device.vector,
  statement: {
    kind: cert.kind,
    person: cert.person,
    signer: cert.signer,
    seq: cert.seq,
    at: cert.at,
    body_utf8: cert.body,
    message: hex(statementMessage(cert)),
    sig: cert.sig,
    hash: cert.hash,
    text_utf8: encodeStatement(cert),
  },
  directory: {
    person: person.vector.text,
    table_seed: hex(directory.table.signing.seed),
    table_public: hex(directory.table.signing.publicKey),
    table_text: tableText(directory.table),
    reader_secret: hex(directory.reader.secretKey),
    reader_public: hex(directory.reader.publicKey),
  },
  link: {
    secret: hex(linkSecret),
    expires_at: linkExpires,
    data: hex(Buffer.concat([linkSecret, linkExpiresBytes])),
    code: createLinkCode(linkSecret, linkExpires),
    table_seed: hex(link.table.signing.seed),
    table_public: hex(link.table.signing.publicKey),
    reader_secret: hex(link.reader.secretKey),
    reader_public: hex(link.reader.publicKey),
  },
  epoch: {
    owner: person.vector.text,
    nonce: hex(groupNonce),
    group,
    epoch_secret: hex(epochSecret),
    table_seed: hex(epoch.table.signing.seed),
    reader_secret: hex(epoch.reader.secretKey),
    control_secret: hex(epoch.controlSecret),
    control_table_seed: hex(epoch.control.table.signing.seed),
    control_reader_secret: hex(epoch.control.reader.secretKey),
    public: epochPublic(epoch),
  },
  packages: {
    op,
    history: { epoch: earlierOp, epoch_secret: hex(earlierSecret) },
    cases: packages,
  },
  group_keys_utf8: groupKeys[0].toString('utf8'),
};

writeVectors('identity.json', 'identity', vectors);
