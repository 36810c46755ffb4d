#!/usr/bin/env node
// Writes docs/vectors/tunnel.json (docs/tunnel-channel.md §6) from fixed device keys and fixed
// HPKE ephemeral keys, using the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/tunnel-vectors.test.ts recomputes every value. The vectors are written once: a file
// whose content would change is refused unless --force is given, because a changed vector
// means a changed format.
//
//   node scripts/tunnel-vectors.mjs           write the file if missing, else check it
//   node scripts/tunnel-vectors.mjs --force   overwrite (only when the format is meant to change)
import { dist, writeVectors } from './lib/vector-file.mjs';
import { fill, hex, identityOf } from './lib/seeded-identity.mjs';

const { deriveKeyPair } = await dist('crypto/hpke.js');
const { hkdfExtract } = await dist('crypto/hkdf.js');
const { sha256 } = await dist('crypto/sha256.js');
const {
  buildM1,
  buildM2,
  buildPlainRefusal,
  deriveRecordKeys,
  ephemeralAgreement,
  identityBytes,
  readM1,
} = await dist('tunnel/handshake.js');
const { RecordSealer, RECORD_TYPE, closeBody } = await dist('tunnel/records.js');

function scheduleOf(context) {
  const s = context.keySchedule;
  return {
    shared_secret: hex(s.sharedSecret),
    key: hex(s.key),
    base_nonce: hex(s.baseNonce),
    exporter_secret: hex(s.exporterSecret),
  };
}

function ephemeralOf(ikm) {
  const pair = deriveKeyPair(ikm);
  return {
    pair,
    vector: {
      ephemeral_ikm: hex(ikm),
      ephemeral_secret: hex(pair.secretKey),
      ephemeral_public: hex(pair.publicKey),
    },
  };
}

// A tunnel's identity vectors also show the identity bytes the handshake binds.
const tunnelIdentity = {
  publicKeys: true,
  extra: (identity) => ({ identity_bytes: hex(identityBytes(identity)) }),
};
const initiator = identityOf(fill(0x11, 32), fill(0x12, 32), tunnelIdentity);
const responder = identityOf(fill(0x21, 32), fill(0x22, 32), tunnelIdentity);
const eI = ephemeralOf(fill(0x31, 32));
const eR = ephemeralOf(fill(0x32, 32));
const service = 'nas web';
const responderBytes = identityBytes(responder.identity);
const initiatorBytes = identityBytes(initiator.identity);

// §2.1: M1, the initiator's side.
const hello = buildM1({
  self: initiator.identity,
  responder: responderBytes,
  service,
  pad: false,
  ephemeral: eI.pair,
});
const head1Length = 4 + 1 + 64 + 64 + 32;
const info1 = Buffer.concat([Buffer.from('p2pcloud/v1/tunnel/m1'), responderBytes, initiatorBytes]);

// §2.2: the responder reads it and answers, with a fixed ephemeral: accept, and a refusal.
const read = readM1(responder.identity, hello.m1);
const answer = buildM2({
  self: responder.identity,
  hello: read,
  answer: { accept: true },
  ephemeral: eR.pair,
});
const refusalText = `${initiator.vector.text} is not a device of this person`;
const refusal = buildM2({
  self: responder.identity,
  hello: read,
  answer: { accept: false, code: 'no_such_device', message: refusalText },
  ephemeral: eR.pair,
});
const head2Length = 4 + 1 + 1 + 32;
const info2 = Buffer.concat([Buffer.from('p2pcloud/v1/tunnel/m2'), sha256(hello.m1)]);
const refusalAnswer = Buffer.concat([
  Uint8Array.of(1, 'no_such_device'.length),
  Buffer.from('no_such_device'),
  Buffer.from(refusalText),
]);

// §2.3: the record keys.
const exportLabel = Buffer.from('p2pcloud/v1/tunnel/keys');
const dh = ephemeralAgreement(eI.pair.secretKey, answer.m2.subarray(6, 38));
const export1 = hello.ctx1.export(exportLabel, 32);
const export2 = answer.ctx2.export(exportLabel, 32);
const salt = sha256(hello.m1, answer.m2);
const prk = hkdfExtract(salt, Buffer.concat([export1, export2, dh]));
const keys = deriveRecordKeys(hello.m1, answer.m2, hello.ctx1, answer.ctx2, dh);

// §3: records in both directions, and padded ones.
const records = [];
const sealers = {
  i2r: new RecordSealer(keys.i2r, false),
  r2i: new RecordSealer(keys.r2i, false),
  i2r_padded: new RecordSealer(keys.i2r, true),
};
function record(name, direction, type, body) {
  const sealer = sealers[direction];
  const counter = sealer.sent;
  const bytes = sealer.seal(type, body);
  records.push({
    name,
    direction: direction.slice(0, 3),
    pad: sealer.pad,
    counter,
    type,
    body: hex(body),
    record: hex(bytes),
  });
}
record('confirmation', 'i2r', RECORD_TYPE.confirm, Buffer.alloc(0));
record('request', 'i2r', RECORD_TYPE.data, Buffer.from('GET / HTTP/1.1\r\nHost: nas\r\n\r\n'));
record('answer', 'r2i', RECORD_TYPE.data, Buffer.from('HTTP/1.1 200 OK\r\n\r\nhello'));
record('end', 'i2r', RECORD_TYPE.end, Buffer.alloc(0));
record('close', 'r2i', RECORD_TYPE.close, closeBody('no_such_device', 'the device was revoked'));
record('padded confirmation', 'i2r_padded', RECORD_TYPE.confirm, Buffer.alloc(0));
record('padded data', 'i2r_padded', RECORD_TYPE.data, fill(0x61, 200));

const plainRefusalMessage = 'tunnel version 2 is not supported: this device speaks version 1';

writeVectors('tunnel.json', 'tunnel handshake or record', {
  description:
    'Tunnel secure channel vectors (docs/tunnel-channel.md §6): a handshake between two ' +
    'devices from fixed keys and fixed HPKE ephemerals, the record keys, and records. ' +
    'Test keys: never use them for real data.',
  initiator: initiator.vector,
  responder: responder.vector,
  m1: {
    ...eI.vector,
    service_utf8: service,
    pad: false,
    info: hex(info1),
    ...scheduleOf(hello.ctx1),
    plaintext: hex(Buffer.concat([Uint8Array.of(0), Buffer.from(service)])),
    head: hex(hello.m1.subarray(0, head1Length)),
    ct: hex(hello.m1.subarray(head1Length)),
    message: hex(hello.m1),
  },
  m2: {
    ...eR.vector,
    info: hex(info2),
    ...scheduleOf(answer.ctx2),
    answer: '00',
    head: hex(answer.m2.subarray(0, head2Length)),
    ct: hex(answer.m2.subarray(head2Length)),
    message: hex(answer.m2),
    refusal: {
      code: 'no_such_device',
      message_utf8: refusalText,
      answer: hex(refusalAnswer),
      ct: hex(refusal.m2.subarray(head2Length)),
      message: hex(refusal.m2),
    },
  },
  plain_refusal: {
    code: 'tunnel_version',
    message_utf8: plainRefusalMessage,
    message: hex(buildPlainRefusal('tunnel_version', plainRefusalMessage)),
  },
  keys: {
    dh: hex(dh),
    export1: hex(export1),
    export2: hex(export2),
    salt: hex(salt),
    prk: hex(prk),
    i2r: hex(keys.i2r),
    r2i: hex(keys.r2i),
  },
  records,
});
