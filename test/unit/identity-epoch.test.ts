/**
 * A group's epoch keys (docs/identity.md §5.2, §5.4): the key schedule against an independent
 * HKDF, what writers and readers hold, key packages sealed to one device for one group and
 * operation, and group-keys objects split to fit 45 KiB.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hkdfSync } from 'node:crypto';
import { signingKeyPairFromSeed } from '../../src/crypto/ed25519.js';
import { openBase, sealBase } from '../../src/crypto/hpke.js';
import { randomBytes } from '../../src/crypto/random.js';
import { boxKeyPairFromSecret, generateBoxKeyPair } from '../../src/crypto/x25519.js';
import {
  GROUP_KEYS_MAX_BYTES,
  controlKeys,
  decodeGroupKeys,
  encodeGroupKeys,
  epochKeysForReader,
  epochKeysFromSecret,
  epochPublic,
  matchesEpoch,
  openPackage,
  sealPackage,
  type EpochPublic,
  type PackageContent,
} from '../../src/identity/epoch.js';

const GROUP = '00112233445566778899aabbccddeeff';
const OTHER_GROUP = '00112233445566778899aabbccddeefe';
const OP = 'ab'.repeat(32);
const OTHER_OP = 'ac'.repeat(32);
const EPOCH_SECRET = Buffer.alloc(32, 0x42);

function hkdf(salt: string, ikm: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, Buffer.from(salt, 'hex'), info, 32));
}

/** info of §5.4, built here from the document rather than from the module. */
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * The same bytes spelled with non-zero padding bits (the last character before "=" carries
 * 2 or 4 bits that decoders drop), or the text itself when it has no padding.
 */
function paddingBitsSet(text: string): string {
  const at = text.replace(/=+$/, '').length - 1;
  if (at === text.length - 1) return text;
  const spelled = B64[B64.indexOf(text[at]!) ^ 1]!;
  return `${text.slice(0, at)}${spelled}${text.slice(at + 1)}`;
}

function packageInfo(group: string, op: string): Buffer {
  return Buffer.concat([
    Buffer.from('p2pcloud/v1/epoch-package'),
    Buffer.from(group, 'hex'),
    Buffer.from(op, 'hex'),
  ]);
}

describe('epoch key schedule (§5.2)', () => {
  test('each secret is HKDF with the group id as salt', () => {
    const keys = epochKeysFromSecret(GROUP, EPOCH_SECRET);
    const tableSeed = hkdf(GROUP, EPOCH_SECRET, 'p2pcloud/v1/epoch/table');
    const readerSecret = hkdf(GROUP, EPOCH_SECRET, 'p2pcloud/v1/epoch/reader');
    const controlSecret = hkdf(GROUP, EPOCH_SECRET, 'p2pcloud/v1/epoch/control');
    const controlTableSeed = hkdf(GROUP, controlSecret, 'p2pcloud/v1/control/table');
    const controlReader = hkdf(GROUP, controlSecret, 'p2pcloud/v1/control/reader');
    assert.deepEqual(keys.table.signing.seed, tableSeed);
    assert.deepEqual(keys.table.signing.publicKey, signingKeyPairFromSeed(tableSeed).publicKey);
    assert.deepEqual(keys.reader.secretKey, readerSecret);
    assert.deepEqual(keys.reader.publicKey, boxKeyPairFromSecret(readerSecret).publicKey);
    assert.deepEqual(keys.controlSecret, controlSecret);
    assert.deepEqual(keys.control.table.signing.seed, controlTableSeed);
    assert.deepEqual(keys.control.reader.secretKey, controlReader);
    assert.deepEqual(controlKeys(GROUP, controlSecret), keys.control);

    const seeds = [tableSeed, readerSecret, controlSecret, controlTableSeed, controlReader];
    assert.equal(new Set(seeds.map((s) => s.toString('hex'))).size, 5);
    const other = epochKeysFromSecret(OTHER_GROUP, EPOCH_SECRET);
    assert.notDeepEqual(other.table.signing.seed, tableSeed, 'the group id salts every secret');
    assert.notDeepEqual(other.controlSecret, controlSecret);
  });

  test('inputs of the wrong shape are refused', () => {
    assert.throws(() => epochKeysFromSecret(GROUP.toUpperCase(), EPOCH_SECRET), RangeError);
    assert.throws(() => epochKeysFromSecret(GROUP.slice(2), EPOCH_SECRET), RangeError);
    assert.throws(() => epochKeysFromSecret(GROUP, EPOCH_SECRET.subarray(1)), RangeError);
    assert.throws(() => epochKeysForReader(GROUP, Buffer.alloc(31), Buffer.alloc(32)), RangeError);
    assert.throws(() => controlKeys(GROUP, Buffer.alloc(33)), RangeError);
  });

  test('a reader holds the data reader and the control space, not the data table', () => {
    const writer = epochKeysFromSecret(GROUP, EPOCH_SECRET);
    const reader = epochKeysForReader(GROUP, writer.reader.secretKey, writer.controlSecret);
    assert.equal(reader.table, undefined);
    assert.deepEqual(reader.reader, writer.reader);
    assert.deepEqual(reader.control, writer.control);
    assert.deepEqual(reader.controlSecret, writer.controlSecret);
  });

  test('epochPublic names the four public keys; matchesEpoch checks keys against them', () => {
    const writer = epochKeysFromSecret(GROUP, EPOCH_SECRET);
    const pub = epochPublic(writer);
    assert.deepEqual(pub, {
      table: writer.table.signing.publicKey.toString('hex'),
      reader: writer.reader.publicKey.toString('hex'),
      control_table: writer.control.table.signing.publicKey.toString('hex'),
      control_reader: writer.control.reader.publicKey.toString('hex'),
    });
    const reader = epochKeysForReader(GROUP, writer.reader.secretKey, writer.controlSecret);
    assert.equal(matchesEpoch(writer, pub), true);
    assert.equal(matchesEpoch(reader, pub), true);

    const otherPub = epochPublic(epochKeysFromSecret(GROUP, Buffer.alloc(32, 1)));
    for (const member of ['table', 'reader', 'control_table', 'control_reader'] as const) {
      const changed: EpochPublic = { ...pub, [member]: otherPub[member] };
      assert.equal(matchesEpoch(writer, changed), false, member);
      assert.equal(matchesEpoch(reader, changed), member === 'table', member);
      assert.equal(matchesEpoch(writer, { ...pub, [member]: pub[member].toUpperCase() }), false);
      assert.equal(matchesEpoch(writer, { ...pub, [member]: pub[member].slice(2) }), false);
      assert.equal(matchesEpoch(writer, { ...pub, [member]: 7 as unknown as string }), false);
    }
    // A reader given a reader secret of another epoch but this epoch's control secret.
    const mixed = epochKeysForReader(GROUP, Buffer.alloc(32, 9), writer.controlSecret);
    assert.equal(matchesEpoch(mixed, pub), false);
  });
});

describe('key packages (§5.4)', () => {
  const history = [
    {
      epoch: 'cd'.repeat(32),
      readerSecret: Buffer.alloc(32, 3),
      controlSecret: Buffer.alloc(32, 4),
    },
    {
      epoch: 'ce'.repeat(32),
      readerSecret: Buffer.alloc(32, 5),
      controlSecret: Buffer.alloc(32, 6),
    },
  ];
  const contents: [string, PackageContent][] = [
    ['writer', { epochSecret: EPOCH_SECRET }],
    ['writer with history', { epochSecret: EPOCH_SECRET, history }],
    ['reader', { readerSecret: Buffer.alloc(32, 1), controlSecret: Buffer.alloc(32, 2) }],
    [
      'reader with history',
      { readerSecret: Buffer.alloc(32, 1), controlSecret: Buffer.alloc(32, 2), history },
    ],
  ];

  for (const [name, content] of contents) {
    test(`${name}: opens for its device, group and operation only`, () => {
      const device = generateBoxKeyPair();
      const ct = sealPackage(GROUP, OP, device.publicKey, content);
      assert.match(ct, /^[A-Za-z0-9+/]+={0,2}$/);
      assert.deepEqual(openPackage(GROUP, OP, device, ct), content);
      assert.equal(openPackage(GROUP, OP, generateBoxKeyPair(), ct), undefined, 'another device');
      assert.equal(openPackage(GROUP, OTHER_OP, device, ct), undefined, 'another operation');
      assert.equal(openPackage(OTHER_GROUP, OP, device, ct), undefined, 'another group');
      assert.equal(openPackage(GROUP.toUpperCase(), OP, device, ct), undefined);
      assert.equal(openPackage(GROUP, OP.slice(1), device, ct), undefined);

      // The plaintext is the JSON of §5.4, sealed with that info and an empty aad.
      const plain = openBase(
        device,
        packageInfo(GROUP, OP),
        Buffer.alloc(0),
        Buffer.from(ct, 'base64'),
      );
      const json = JSON.parse(plain!.toString()) as Record<string, unknown>;
      if ('epochSecret' in content) {
        assert.equal(json.epoch_secret, EPOCH_SECRET.toString('hex'));
      } else {
        assert.equal(json.reader_secret, '01'.repeat(32));
        assert.equal(json.control_secret, '02'.repeat(32));
      }
      assert.equal(Object.hasOwn(json, 'history'), content.history !== undefined);

      const sealed = Buffer.from(ct, 'base64');
      for (const index of [0, 31, 32, sealed.length - 1]) {
        const damaged = Buffer.from(sealed);
        damaged[index]! ^= 1;
        assert.equal(openPackage(GROUP, OP, device, damaged.toString('base64')), undefined);
      }
      // Only the padded standard alphabet is read: other spellings of the same bytes are not.
      const variants = [
        ct.replace(/=+$/, ''),
        sealed.toString('base64url'),
        ` ${ct}`,
        paddingBitsSet(ct),
      ];
      assert.deepEqual(Buffer.from(paddingBitsSet(ct), 'base64'), sealed);
      for (const variant of variants) {
        if (variant !== ct) assert.equal(openPackage(GROUP, OP, device, variant), undefined);
      }
      assert.equal(openPackage(GROUP, OP, device, ''), undefined);
    });
  }

  test('an empty history is left out of the plaintext', () => {
    const device = generateBoxKeyPair();
    const ct = sealPackage(GROUP, OP, device.publicKey, { epochSecret: EPOCH_SECRET, history: [] });
    assert.deepEqual(openPackage(GROUP, OP, device, ct), { epochSecret: EPOCH_SECRET });
  });

  test('plaintexts that are not exactly as §5.4 says do not open', () => {
    const device = generateBoxKeyPair();
    const s = 'ab'.repeat(32);
    const item = { epoch: OP, reader_secret: s, control_secret: s };
    const bad: unknown[] = [
      {},
      [],
      'text',
      { epoch_secret: s.toUpperCase() },
      { epoch_secret: s.slice(2) },
      { epoch_secret: s, extra: 1 },
      { epoch_secret: s, reader_secret: s, control_secret: s },
      { reader_secret: s },
      { control_secret: s },
      { reader_secret: s, control_secret: 7 },
      { epoch_secret: s, history: [] },
      { epoch_secret: s, history: {} },
      { epoch_secret: s, history: [{ ...item, extra: true }] },
      { epoch_secret: s, history: [{ ...item, epoch: GROUP }] },
      { epoch_secret: s, history: [{ epoch: OP, reader_secret: s }] },
      { epoch_secret: s, history: [item, null] },
    ];
    const info = packageInfo(GROUP, OP);
    for (const value of bad) {
      const sealed = sealBase(
        device.publicKey,
        info,
        Buffer.alloc(0),
        Buffer.from(JSON.stringify(value)),
      );
      assert.equal(
        openPackage(GROUP, OP, device, sealed.toString('base64')),
        undefined,
        JSON.stringify(value),
      );
    }
    // The same members in another order are the same package.
    const reordered = sealBase(
      device.publicKey,
      info,
      Buffer.alloc(0),
      Buffer.from(JSON.stringify({ history: [item], epoch_secret: s })),
    );
    assert.deepEqual(openPackage(GROUP, OP, device, reordered.toString('base64')), {
      epochSecret: Buffer.from(s, 'hex'),
      history: [
        { epoch: OP, readerSecret: Buffer.from(s, 'hex'), controlSecret: Buffer.from(s, 'hex') },
      ],
    });
    // With an aad, or another info, it does not open.
    const withAad = sealBase(
      device.publicKey,
      info,
      Buffer.of(1),
      Buffer.from(JSON.stringify({ epoch_secret: s })),
    );
    assert.equal(openPackage(GROUP, OP, device, withAad.toString('base64')), undefined);
  });

  test('the keys a package opens to prove it against the operation', () => {
    const device = generateBoxKeyPair();
    const writer = epochKeysFromSecret(GROUP, EPOCH_SECRET);
    const pub = epochPublic(writer);
    const content = openPackage(
      GROUP,
      OP,
      device,
      sealPackage(GROUP, OP, device.publicKey, {
        readerSecret: writer.reader.secretKey,
        controlSecret: writer.controlSecret,
      }),
    )!;
    assert.ok(!('epochSecret' in content));
    const keys = epochKeysForReader(GROUP, content.readerSecret, content.controlSecret);
    assert.equal(matchesEpoch(keys, pub), true);
    const forged = epochKeysForReader(GROUP, randomBytes(32), content.controlSecret);
    assert.equal(matchesEpoch(forged, pub), false);
  });
});

describe('group-keys objects (§5.4)', () => {
  test('1,000 recipients: split below 45 KiB per object, and every package round-trips', () => {
    const devices = Array.from({ length: 1000 }, () => generateBoxKeyPair());
    const packages = devices.map((d) => ({
      to: d.publicKey,
      ct: sealPackage(GROUP, OP, d.publicKey, { epochSecret: EPOCH_SECRET }),
    }));
    const objects = encodeGroupKeys(GROUP, OP, packages);
    assert.ok(objects.length >= 5, `${objects.length} objects`);
    const back: { to: Buffer; ct: string }[] = [];
    for (const [i, object] of objects.entries()) {
      assert.ok(object.length <= GROUP_KEYS_MAX_BYTES, `object ${i}: ${object.length} bytes`);
      assert.equal(GROUP_KEYS_MAX_BYTES, 46_080);
      const decoded = decodeGroupKeys(object)!;
      assert.ok(decoded, `object ${i} decodes`);
      assert.equal(decoded.group, GROUP);
      assert.equal(decoded.epoch, OP);
      const json = JSON.parse(object.toString()) as Record<string, unknown>;
      assert.deepEqual(Object.keys(json), ['type', 'v', 'group', 'epoch', 'packages']);
      assert.equal(json.type, 'p2pcloud/group-keys');
      assert.equal(json.v, 1);
      // As few objects as fit: the first package of the next object would not have fitted.
      if (i + 1 < objects.length) {
        const next = JSON.stringify({
          to: packages[back.length + decoded.packages.length]!.to.toString('hex'),
          ct: packages[back.length + decoded.packages.length]!.ct,
        });
        assert.ok(object.length + 1 + next.length > GROUP_KEYS_MAX_BYTES);
      }
      back.push(...decoded.packages);
    }
    assert.equal(back.length, 1000);
    for (const [i, p] of back.entries()) {
      assert.deepEqual(p.to, packages[i]!.to);
      assert.equal(p.ct, packages[i]!.ct);
    }
    for (const i of [0, 499, 999]) {
      assert.deepEqual(openPackage(GROUP, OP, devices[i]!, back[i]!.ct), {
        epochSecret: EPOCH_SECRET,
      });
    }
  });

  test('no packages, no objects; a package too large for any object is refused', () => {
    assert.deepEqual(encodeGroupKeys(GROUP, OP, []), []);
    const to = generateBoxKeyPair().publicKey;
    assert.throws(
      () => encodeGroupKeys(GROUP, OP, [{ to, ct: Buffer.alloc(40_000).toString('base64') }]),
      RangeError,
    );
    assert.throws(() => encodeGroupKeys(GROUP, OP, [{ to, ct: 'not base64!' }]), RangeError);
    assert.throws(
      () => encodeGroupKeys(GROUP, OP, [{ to: to.subarray(1), ct: 'AAAA' }]),
      RangeError,
    );
    assert.throws(() => encodeGroupKeys('group', OP, []), RangeError);
  });

  test('decoding is strict and bounded', () => {
    const to = generateBoxKeyPair().publicKey;
    const ct = sealPackage(GROUP, OP, to, { epochSecret: EPOCH_SECRET });
    const good = {
      type: 'p2pcloud/group-keys',
      v: 1,
      group: GROUP,
      epoch: OP,
      packages: [{ to: to.toString('hex'), ct }],
    };
    const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
    assert.deepEqual(decodeGroupKeys(encode(good)), {
      group: GROUP,
      epoch: OP,
      packages: [{ to, ct }],
    });
    assert.deepEqual(
      decodeGroupKeys(Buffer.from(JSON.stringify(good, null, 2))),
      decodeGroupKeys(encode(good)),
    );

    const bad: unknown[] = [
      { ...good, extra: 1 },
      { ...good, type: 'p2pcloud/group-key' },
      { ...good, v: 2 },
      { ...good, v: '1' },
      { ...good, group: GROUP.toUpperCase() },
      { ...good, group: OP },
      { ...good, epoch: GROUP },
      { ...good, packages: [] },
      { ...good, packages: {} },
      { ...good, packages: [null] },
      { ...good, packages: [{ to: to.toString('hex') }] },
      { ...good, packages: [{ to: to.toString('hex'), ct, extra: 1 }] },
      { ...good, packages: [{ to: to.toString('hex').slice(2), ct }] },
      { ...good, packages: [{ to: to.toString('hex').toUpperCase(), ct }] },
      { ...good, packages: [{ to: to.toString('hex'), ct: `${ct}=` }] },
      { ...good, packages: [{ to: to.toString('hex'), ct: paddingBitsSet(ct) }] },
      {
        ...good,
        packages: [{ to: to.toString('hex'), ct: Buffer.from(ct, 'base64').toString('base64url') }],
      },
      { ...good, packages: [{ to: to.toString('hex'), ct: Buffer.alloc(47).toString('base64') }] },
      { ...good, packages: [{ to: to.toString('hex'), ct: 7 }] },
      [good],
      'group-keys',
    ];
    for (const value of bad)
      assert.equal(decodeGroupKeys(encode(value)), undefined, JSON.stringify(value).slice(0, 120));
    const missing = Object.fromEntries(Object.entries(good).filter(([k]) => k !== 'type'));
    assert.equal(decodeGroupKeys(encode(missing)), undefined);
    assert.equal(decodeGroupKeys(Buffer.from('{"type":')), undefined);
    assert.equal(decodeGroupKeys(Buffer.alloc(0)), undefined);

    // Over 45 KiB is refused before it is parsed, however well formed.
    const many = { ...good, packages: Array.from({ length: 300 }, () => good.packages[0]) };
    const large = encode(many);
    assert.ok(large.length > GROUP_KEYS_MAX_BYTES);
    assert.equal(decodeGroupKeys(large), undefined);
    const started = performance.now();
    assert.equal(decodeGroupKeys(Buffer.alloc(50 * 1024 * 1024, 0x5b)), undefined);
    assert.ok(performance.now() - started < 1000, '50 MiB of [ refused at once');
  });
});
