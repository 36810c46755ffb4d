import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  deriveKeyPair,
  openBase,
  sealBase,
  setupRecipient,
  setupSender,
  type HpkeMode,
} from '../../src/crypto/hpke.js';
import { generateBoxKeyPair } from '../../src/crypto/x25519.js';
import { repoRoot } from '../helpers/paths.js';

interface Vector {
  mode: number;
  kem_id: number;
  kdf_id: number;
  aead_id: number;
  info: string;
  ikmR: string;
  ikmE: string;
  ikmS?: string;
  skRm: string;
  skEm: string;
  skSm?: string;
  pkRm: string;
  pkEm: string;
  pkSm?: string;
  psk?: string;
  psk_id?: string;
  enc: string;
  shared_secret: string;
  key: string;
  base_nonce: string;
  exporter_secret: string;
  encryptions: { aad: string; ct: string; nonce: string; pt: string }[];
  exports: { exporter_context: string; L: number; exported_value: string }[];
}

const h = (s: string | undefined): Buffer => Buffer.from(s ?? '', 'hex');
const vectors: Vector[] = JSON.parse(
  readFileSync(
    join(repoRoot, 'test', 'vectors', 'rfc9180-x25519-sha256-chacha20poly1305.json'),
    'utf8',
  ),
);

test('RFC 9180 vectors cover all four modes of our suite', () => {
  assert.deepEqual([...new Set(vectors.map((v) => v.mode))].sort(), [0, 1, 2, 3]);
  for (const v of vectors) {
    assert.equal(v.kem_id, 0x20);
    assert.equal(v.kdf_id, 1);
    assert.equal(v.aead_id, 3);
  }
});

for (const [index, v] of vectors.entries()) {
  test(`RFC 9180 vector #${index} (mode ${v.mode}): keys, schedule, 257 messages, exports`, () => {
    const recipient = deriveKeyPair(h(v.ikmR));
    const ephemeral = deriveKeyPair(h(v.ikmE));
    assert.equal(recipient.secretKey.toString('hex'), v.skRm);
    assert.equal(recipient.publicKey.toString('hex'), v.pkRm);
    assert.equal(ephemeral.secretKey.toString('hex'), v.skEm);
    assert.equal(ephemeral.publicKey.toString('hex'), v.pkEm);
    const sender = v.ikmS ? deriveKeyPair(h(v.ikmS)) : undefined;
    if (sender) {
      assert.equal(sender.secretKey.toString('hex'), v.skSm);
      assert.equal(sender.publicKey.toString('hex'), v.pkSm);
    }
    const options = {
      mode: v.mode as HpkeMode,
      info: h(v.info),
      psk: h(v.psk),
      pskId: h(v.psk_id),
    };
    const { enc, context: senderCtx } = setupSender(recipient.publicKey, {
      ...options,
      ephemeral,
      ...(sender ? { sender } : {}),
    });
    assert.equal(enc.toString('hex'), v.enc);
    const schedule = senderCtx.keySchedule;
    assert.equal(schedule.sharedSecret.toString('hex'), v.shared_secret);
    assert.equal(schedule.key.toString('hex'), v.key);
    assert.equal(schedule.baseNonce.toString('hex'), v.base_nonce);
    assert.equal(schedule.exporterSecret.toString('hex'), v.exporter_secret);

    const recipientCtx = setupRecipient(enc, recipient, {
      ...options,
      ...(sender ? { senderPublicKey: sender.publicKey } : {}),
    });
    // The array index is the sequence number, so every message must be processed in order.
    for (const message of v.encryptions) {
      const ct = senderCtx.seal(h(message.aad), h(message.pt));
      assert.equal(ct.toString('hex'), message.ct);
      const pt = recipientCtx.open(h(message.aad), h(message.ct));
      assert.ok(pt, 'ciphertext must open');
      assert.equal(pt.toString('hex'), message.pt);
    }
    for (const e of v.exports) {
      assert.equal(senderCtx.export(h(e.exporter_context), e.L).toString('hex'), e.exported_value);
      assert.equal(
        recipientCtx.export(h(e.exporter_context), e.L).toString('hex'),
        e.exported_value,
      );
    }
  });
}

test('base-mode single-shot seal opens only with the right key, info and aad', () => {
  const alice = generateBoxKeyPair();
  const eve = generateBoxKeyPair();
  const info = Buffer.from('info');
  const aad = Buffer.from('aad');
  const sealed = sealBase(alice.publicKey, info, aad, Buffer.from('hello'));
  assert.equal(openBase(alice, info, aad, sealed)?.toString(), 'hello');
  assert.equal(openBase(eve, info, aad, sealed), undefined);
  assert.equal(openBase(alice, Buffer.from('other'), aad, sealed), undefined);
  assert.equal(openBase(alice, info, Buffer.from('other'), sealed), undefined);
  const flipped = Buffer.from(sealed);
  flipped[flipped.length - 1]! ^= 1;
  assert.equal(openBase(alice, info, aad, flipped), undefined);
  assert.equal(openBase(alice, info, aad, sealed.subarray(0, 40)), undefined);
  // A small-order ephemeral key (all zeros) must be refused, not yield a known secret.
  const lowOrder = Buffer.concat([Buffer.alloc(32), sealed.subarray(32)]);
  assert.equal(openBase(alice, info, aad, lowOrder), undefined);
});
