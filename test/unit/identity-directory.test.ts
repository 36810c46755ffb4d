/**
 * The directory (docs/identity.md §3.1–3.3): its derived keys, and which devices speak for a
 * person given the certificates and revocations signed for them, including the ones a
 * revoked device, a device that is not the root or a stranger signed, and bodies that are not
 * exactly as §3.2 says.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { boxKeyPairFromSecret } from '../../src/crypto/x25519.js';
import { P2PError } from '../../src/errors.js';
import {
  certBody,
  deviceState,
  directoryKeys,
  revokeBody,
  type DeviceState,
} from '../../src/identity/directory.js';
import {
  decodeStatement,
  encodeStatement,
  signStatement,
  type Statement,
  type StatementKind,
} from '../../src/identity/statement.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';

interface Device {
  readonly identity: Identity;
  readonly text: string;
  seq: number;
}

function device(): Device {
  const identity = generateIdentity();
  return { identity, text: identityText(identity), seq: 0 };
}

/** A statement signed by `signer` for `person`, numbered by the signer's own counter. */
function statement(
  signer: Device,
  person: Device,
  kind: StatementKind,
  body: Record<string, unknown>,
  at: number,
  seq = ++signer.seq,
): Statement {
  return signStatement({ kind, person: person.text, signer: signer.identity, seq, at, body });
}

function cert(
  signer: Device,
  person: Device,
  target: Device,
  at: number,
  name = 'phone',
): Statement {
  return statement(signer, person, 'device-cert', certBody(target.text, name), at);
}

function revoke(
  signer: Device,
  person: Device,
  target: Device,
  at: number,
  lastSeq: number,
): Statement {
  return statement(signer, person, 'device-revoke', revokeBody(target.text, lastSeq), at);
}

/** A statement whose body text is given as is: deviceState trusts the signature, not the body. */
function withBody(s: Statement, body: string): Statement {
  return { ...s, body };
}

function box(d: Device): string {
  return d.identity.box.publicKey.toString('hex');
}

function recipients(state: DeviceState): string[] {
  return state.recipients().map((b) => b.toString('hex'));
}

describe('directory keys (§3.1)', () => {
  test('are HKDF of the identity bytes, the same for every text form of the person', () => {
    const root = device();
    const bytes = Buffer.concat([root.identity.signing.publicKey, root.identity.box.publicKey]);
    const hkdf = (info: string): Buffer =>
      Buffer.from(hkdfSync('sha256', bytes, 'p2pcloud/v1/directory', info, 32));
    const keys = directoryKeys(root.text);
    assert.deepEqual(keys.table.signing.seed, hkdf('table'));
    assert.deepEqual(keys.table.signing.publicKey, signingKeyPairFromSeed(hkdf('table')).publicKey);
    assert.deepEqual(keys.reader.secretKey, hkdf('reader'));
    assert.deepEqual(keys.reader.publicKey, boxKeyPairFromSecret(hkdf('reader')).publicKey);
    const upper = directoryKeys(` ${root.text.toUpperCase()}\n`);
    assert.deepEqual(upper.table.signing.publicKey, keys.table.signing.publicKey);
    assert.notDeepEqual(
      directoryKeys(device().text).table.signing.publicKey,
      keys.table.signing.publicKey,
    );
  });

  test('refuse what is not an identity text', () => {
    assert.throws(
      () => directoryKeys('p2pid1notakey'),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_key',
    );
  });
});

describe('statement bodies (§3.2)', () => {
  test('cert and revoke bodies are built in the canonical text form and checked', () => {
    const d = device();
    assert.deepEqual(certBody(d.text.toUpperCase(), 'tablet'), { device: d.text, name: 'tablet' });
    assert.deepEqual(revokeBody(` ${d.text}`, 41), { device: d.text, last_seq: 41 });
    assert.throws(() => certBody(d.text, ''), RangeError);
    assert.throws(() => certBody(d.text, 'x'.repeat(65)), RangeError);
    assert.deepEqual(certBody(d.text, '📱'.repeat(64)).name, '📱'.repeat(64));
    assert.throws(() => revokeBody(d.text, -1), RangeError);
    assert.throws(() => revokeBody(d.text, 1.5), RangeError);
    assert.throws(
      () => certBody('phone', 'phone'),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_key',
    );
  });
});

describe('which devices speak for a person (§3.3)', () => {
  test('a certificate chain through a device: the root certifies A, A certifies B', () => {
    const root = device();
    const a = device();
    const b = device();
    const statements = [cert(a, root, b, 2000, 'laptop'), cert(root, root, a, 1000, 'phone')];
    const state = deviceState(root.text, statements);
    assert.equal(state.person, root.text);
    assert.deepEqual([...state.devices.keys()].sort(), [a.text, b.text].sort());
    assert.deepEqual(state.devices.get(b.text), {
      device: b.text,
      name: 'laptop',
      certifiedAt: 2000,
      issuer: a.text,
      cutoff: undefined,
    });
    assert.equal(state.devices.get(a.text)!.issuer, root.text);
    for (const d of [root, a, b]) {
      assert.equal(state.isActive(d.text), true);
      assert.equal(state.accepts(d.text, 9_999_999, 1_000_000), true);
    }
    assert.deepEqual(recipients(state).sort(), [box(root), box(a), box(b)].sort());
    assert.equal(recipients(state)[0], box(root));

    // Without the root's certificate of A, neither A nor what A certified counts.
    const orphan = deviceState(root.text, [statements[0]!]);
    assert.equal(orphan.devices.size, 0);
    assert.equal(orphan.accepts(b.text, 1, 1), false);
    assert.deepEqual(recipients(orphan), [box(root)]);
  });

  test('devices that certify each other without the root do not count', () => {
    const root = device();
    const a = device();
    const b = device();
    const state = deviceState(root.text, [cert(a, root, b, 1), cert(b, root, a, 2)]);
    assert.equal(state.devices.size, 0);
    assert.equal(state.accepts(a.text, 1, 1), false);
    assert.equal(state.isActive(a.text), false);
  });

  test('a device revoked by the root: what it signs after its cutoff is refused, before accepted', () => {
    const root = device();
    const a = device();
    const early = device();
    const late = device();
    const backDated = device();
    const certA = cert(root, root, a, 1000);
    const byA = [
      cert(a, root, early, 4000), // seq 1: in time, and seen by the revoker
      cert(a, root, late, 6000), // seq 2: after the revocation's time
    ];
    a.seq = 10;
    byA.push(cert(a, root, backDated, 4500)); // seq 11: dated before, numbered past last_seq
    const revocation = revoke(root, root, a, 5000, 10);
    const state = deviceState(root.text, [certA, ...byA, revocation]);

    assert.deepEqual(state.devices.get(a.text)!.cutoff, { at: 5000, lastSeq: 10 });
    assert.ok(state.devices.has(early.text));
    assert.ok(!state.devices.has(late.text));
    assert.ok(!state.devices.has(backDated.text));

    assert.equal(state.accepts(a.text, 5000, 10), true, 'at and seq equal to the cutoff');
    assert.equal(state.accepts(a.text, 1, 1), true);
    assert.equal(state.accepts(a.text, 5001, 5), false, 'signed after the revocation');
    assert.equal(state.accepts(a.text, 4000, 11), false, 'back-dated past what the root had seen');
    assert.equal(state.isActive(a.text), false);
    assert.equal(state.isActive(early.text), true, 'a device it certified in time stays');
    assert.deepEqual(recipients(state).sort(), [box(root), box(early)].sort());

    // Without the revocation, every one of A's certificates counts.
    const unrevoked = deviceState(root.text, [certA, ...byA]);
    assert.equal(unrevoked.devices.size, 4);
    assert.equal(unrevoked.accepts(a.text, 4000, 11), true);
  });

  test('a revocation signed by a device other than the root is ignored', () => {
    const root = device();
    const a = device();
    const b = device();
    const state = deviceState(root.text, [
      cert(root, root, a, 1000),
      cert(root, root, b, 1000),
      revoke(a, root, b, 2000, 0),
    ]);
    assert.equal(state.devices.get(b.text)!.cutoff, undefined);
    assert.equal(state.isActive(b.text), true);
    assert.equal(state.accepts(b.text, 3000, 5), true);
  });

  test('revoking the root is ignored, and so is a certificate naming the root', () => {
    const root = device();
    const a = device();
    const state = deviceState(root.text, [
      cert(root, root, a, 1000),
      revoke(root, root, root, 2000, 0),
      cert(a, root, root, 1500, 'self'),
    ]);
    assert.equal(state.accepts(root.text, 3000, 99), true);
    assert.equal(state.isActive(root.text), true);
    assert.ok(!state.devices.has(root.text));
    assert.deepEqual(recipients(state).sort(), [box(root), box(a)].sort());
  });

  test('several revocations of one device: the smallest time and the smallest last_seq', () => {
    const root = device();
    const a = device();
    const state = deviceState(root.text, [
      cert(root, root, a, 1000),
      revoke(root, root, a, 7000, 10),
      revoke(root, root, a, 5000, 20),
      revoke(root, root, a, 9000, 30),
    ]);
    assert.deepEqual(state.devices.get(a.text)!.cutoff, { at: 5000, lastSeq: 10 });
    assert.equal(state.accepts(a.text, 5000, 10), true);
    assert.equal(state.accepts(a.text, 5001, 10), false);
    assert.equal(state.accepts(a.text, 5000, 11), false);
  });

  test('the earliest certificate that counts gives the name, the time and the issuer', () => {
    const root = device();
    const a = device();
    const b = device();
    const state = deviceState(root.text, [
      cert(root, root, b, 3000, 'late'),
      cert(a, root, b, 2000, 'early'),
      cert(root, root, a, 1000, 'phone'),
    ]);
    const info = state.devices.get(b.text)!;
    assert.equal(info.name, 'early');
    assert.equal(info.certifiedAt, 2000);
    assert.equal(info.issuer, a.text);
  });

  test('a revocation of a device certified later still bounds what it signs', () => {
    const root = device();
    const a = device();
    const state = deviceState(root.text, [
      revoke(root, root, a, 500, 0),
      cert(root, root, a, 1000),
    ]);
    assert.equal(state.isActive(a.text), false);
    assert.equal(state.accepts(a.text, 1000, 1), false);
  });

  test('statements for another person, or of another kind, are not used', () => {
    const root = device();
    const other = device();
    const a = device();
    const state = deviceState(root.text, [
      cert(root, other, a, 1000),
      statement(root, root, 'record', certBody(a.text, 'phone'), 1000),
      statement(root, root, 'link-answer', certBody(a.text, 'phone'), 1000),
    ]);
    assert.equal(state.devices.size, 0);
    assert.equal(state.accepts(a.text, 1, 1), false);
    // Nor does it count for the other person: the root is not one of their devices.
    assert.equal(deviceState(other.text, [cert(root, other, a, 1000)]).devices.size, 0);
    assert.equal(deviceState(other.text, [cert(other, other, a, 1000)]).devices.size, 1);
  });

  test('junk bodies are ignored, whoever signed them', () => {
    const root = device();
    const a = device();
    const good = cert(root, root, a, 1000);
    const badCerts = [
      '{}',
      '[]',
      'null',
      '{"device":',
      JSON.stringify({ device: a.text }),
      JSON.stringify({ name: 'phone' }),
      JSON.stringify({ device: a.text, name: 'phone', extra: 1 }),
      JSON.stringify({ device: a.text, name: '' }),
      JSON.stringify({ device: a.text, name: 'x'.repeat(65) }),
      JSON.stringify({ device: a.text, name: '📱'.repeat(65) }),
      JSON.stringify({ device: a.text, name: 7 }),
      JSON.stringify({ device: a.text.toUpperCase(), name: 'phone' }),
      JSON.stringify({ device: ` ${a.text}`, name: 'phone' }),
      JSON.stringify({ device: a.text.slice(0, -1), name: 'phone' }),
      JSON.stringify({ device: a.identity.box.publicKey.toString('hex'), name: 'phone' }),
    ];
    for (const body of badCerts) {
      const state = deviceState(root.text, [withBody(good, body)]);
      assert.equal(state.devices.size, 0, body);
    }
    assert.equal(
      deviceState(root.text, [
        withBody(good, JSON.stringify({ device: a.text, name: '📱'.repeat(64) })),
      ]).devices.size,
      1,
    );

    const revocation = revoke(root, root, a, 2000, 5);
    const badRevocations = [
      JSON.stringify({ device: a.text }),
      JSON.stringify({ device: a.text, last_seq: -1 }),
      JSON.stringify({ device: a.text, last_seq: 1.5 }),
      JSON.stringify({ device: a.text, last_seq: '5' }),
      JSON.stringify({ device: a.text, last_seq: 2 ** 53 }),
      JSON.stringify({ device: a.text, last_seq: 5, at: 1 }),
      JSON.stringify({ device: a.text.toUpperCase(), last_seq: 5 }),
      JSON.stringify({ device: 'p2pid1', last_seq: 5 }),
      'true',
    ];
    for (const body of badRevocations) {
      const state = deviceState(root.text, [good, withBody(revocation, body)]);
      assert.equal(state.isActive(a.text), true, body);
    }
    assert.equal(deviceState(root.text, [good, revocation]).isActive(a.text), false);
  });

  test('texts are compared by the key they name, not by their spelling', () => {
    const root = device();
    const a = device();
    const upper = { ...cert(root, root, a, 1000), person: root.text.toUpperCase() };
    const state = deviceState(` ${root.text.toUpperCase()} `, [upper]);
    assert.equal(state.person, root.text);
    assert.ok(state.devices.has(a.text));
    assert.equal(state.accepts(a.text.toUpperCase(), 1, 1), true);
    assert.equal(state.isActive(`${a.text}\n`), true);
    assert.equal(state.accepts('not an identity', 1, 1), false);
    assert.equal(state.isActive('not an identity'), false);
  });

  test('statements read back from their JSON text give the same state', () => {
    const root = device();
    const a = device();
    const b = device();
    const signed = [
      cert(root, root, a, 1000),
      cert(a, root, b, 2000),
      revoke(root, root, a, 3000, 1),
    ];
    const decoded = signed.map((s) => decodeStatement(encodeStatement(s))!);
    const state = deviceState(root.text, decoded);
    assert.deepEqual(
      [...state.devices.values()],
      [...deviceState(root.text, signed).devices.values()],
    );
    assert.equal(state.isActive(b.text), true);
    assert.equal(state.isActive(a.text), false);
  });

  test('a long chain listed backwards takes time linear in its length', () => {
    const root = device();
    const chain = Array.from({ length: 3000 }, () => device());
    const statements: Statement[] = [];
    let issuer = root;
    for (const d of chain) {
      statements.push(cert(issuer, root, d, 1000));
      issuer = d;
    }
    statements.reverse();
    const started = performance.now();
    const state = deviceState(root.text, statements);
    const elapsed = performance.now() - started;
    assert.equal(state.devices.size, chain.length);
    assert.equal(state.devices.get(chain.at(-1)!.text)!.issuer, chain.at(-2)!.text);
    // A rule that rescans every statement until nothing changes takes 3,000 passes here.
    assert.ok(elapsed < 5000, `deviceState took ${elapsed.toFixed(0)} ms`);
  });
});
