/**
 * What a pasted key may look like (§3.2, §3.3) and what a key file may hold (§3.4): white space
 * around a key is ignored, white space inside is not; an all upper case text is the same key;
 * key files hold lower case hex and their exact public text, nothing else.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { P2PError } from '../../src/errors.js';
import { decodeKeyText, parsePublicKey, trimKeyText } from '../../src/encoding/key-text.js';
import { parseIdentity, parseTableKey } from '../../src/keys/keys.js';

const TABLE_HEX = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const TABLE_TEXT = 'p2ptable16adfsqvzky9t042tlmfujeq88g8wzuhnm2nzxfd0qgdx3ac82ydqgul6nt';
const IDENTITY_FILE = {
  kind: 'p2pcloud-identity',
  version: 1,
  signing_seed: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
  box_secret: '77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a',
  public:
    'p2pid184qp0slggwy44y4hp2n56xm7hjwfstx09mzfdrxqe42lz2h5vcxg2g8spxynpf65wj9hmh958mm45rdl8gxjvwq67n46f2vw42d5u6svpnt25',
};
const TABLE_FILE = {
  kind: 'p2pcloud-table',
  version: 1,
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  public: TABLE_TEXT,
};

function refused(run: () => unknown, code: 'bad_key' | 'bad_key_file', message?: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof P2PError, String(error));
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe('white space around and inside key texts', () => {
  const around = [' ', '\t', '\n', '\r\n', ' \t\r\n  '];

  test('space, tab, LF and CR around a text or a hex key are ignored', () => {
    for (const space of around) {
      const padded = `${space}${TABLE_TEXT}${space}`;
      assert.equal(decodeKeyText(padded, ['table']).bytes.toString('hex'), TABLE_HEX);
      assert.equal(parsePublicKey(padded, 'table').toString('hex'), TABLE_HEX);
      assert.equal(parsePublicKey(`${space}${TABLE_HEX}`, 'table').toString('hex'), TABLE_HEX);
      assert.equal(
        parsePublicKey(`${TABLE_TEXT.toUpperCase()}${space}`, 'table').toString('hex'),
        TABLE_HEX,
      );
    }
  });

  test('white space inside, and any other white space around, is bad_key', () => {
    const inside = [
      `${TABLE_TEXT.slice(0, 20)} ${TABLE_TEXT.slice(20)}`,
      `${TABLE_TEXT.slice(0, 20)}\n${TABLE_TEXT.slice(20)}`,
      `${TABLE_HEX.slice(0, 32)} ${TABLE_HEX.slice(32)}`,
    ];
    for (const text of inside) {
      refused(() => parsePublicKey(text, 'table'), 'bad_key', /white space/);
    }
    // No-break space, byte order mark, form feed and vertical tab are not what a paste adds.
    for (const space of ['\u00a0', '\ufeff', '\f', '\v', '\u2003']) {
      refused(() => parsePublicKey(`${space}${TABLE_TEXT}`, 'table'), 'bad_key', /white space/);
      refused(() => parsePublicKey(`${TABLE_HEX}${space}`, 'table'), 'bad_key');
    }
    for (const blank of ['', ' ', '\r\n\t ']) {
      refused(() => decodeKeyText(blank, ['table']), 'bad_key', /empty/);
    }
  });

  test('trimming takes linear time on hostile input', () => {
    const hostile = `a${' '.repeat(200_000)}b`;
    const started = performance.now();
    assert.equal(trimKeyText(hostile), hostile);
    assert.equal(trimKeyText(`${' '.repeat(200_000)}x${'\t'.repeat(200_000)}`), 'x');
    assert.ok(performance.now() - started < 1000, 'trimming took over a second');
  });

  test('messages name the fault: case, prefix, kind, alphabet, checksum', () => {
    refused(
      () => decodeKeyText(`p2ptable16ADF${TABLE_TEXT.slice(13)}`, ['table']),
      'bad_key',
      /mixes/,
    );
    refused(() => decodeKeyText('alice', ['identity']), 'bad_key', /keys look like p2pid1/);
    refused(() => decodeKeyText(`p2pkey1${TABLE_TEXT.slice(9)}`, ['table']), 'bad_key', /prefix/);
    refused(() => decodeKeyText(TABLE_TEXT, ['identity']), 'bad_key', /expected identity key/);
    refused(() => decodeKeyText(`${TABLE_TEXT.slice(0, -1)}b`, ['table']), 'bad_key', /"b"/);
    refused(() => decodeKeyText(`${TABLE_TEXT.slice(0, -1)}q`, ['table']), 'bad_key', /checksum/);
  });
});

describe('key files hold lower case hex and their exact public text', () => {
  const text = (object: object): string => JSON.stringify(object);

  test('the files of §3.4 are read, in any JSON layout', () => {
    assert.equal(
      parseIdentity(text(IDENTITY_FILE)).box.publicKey.toString('hex'),
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    );
    assert.equal(
      parseTableKey(JSON.stringify(TABLE_FILE, null, 8)).signing.publicKey.toString('hex'),
      TABLE_HEX,
    );
  });

  test('upper case hex in a secret is bad_key_file, naming the member', () => {
    for (const member of ['signing_seed', 'box_secret'] as const) {
      const upper = { ...IDENTITY_FILE, [member]: IDENTITY_FILE[member].toUpperCase() };
      refused(() => parseIdentity(text(upper)), 'bad_key_file', new RegExp(`${member}.*lower`));
      const mixed = { ...IDENTITY_FILE, [member]: `A${IDENTITY_FILE[member].slice(1)}` };
      refused(() => parseIdentity(text(mixed)), 'bad_key_file', /lower/);
    }
    const upperSeed = { ...TABLE_FILE, seed: TABLE_FILE.seed.toUpperCase() };
    refused(() => parseTableKey(text(upperSeed)), 'bad_key_file', /seed.*lower/);
  });

  test('public must be the exact text: no upper case, no white space, no other key', () => {
    for (const wrong of [
      TABLE_TEXT.toUpperCase(),
      ` ${TABLE_TEXT}`,
      `${TABLE_TEXT}\n`,
      'p2ptable1l3gumrnzrzs68rdy0mgqyv8stqypdmgnhges8tzaawg32jyssqjsprthhd',
    ]) {
      refused(() => parseTableKey(text({ ...TABLE_FILE, public: wrong })), 'bad_key_file');
    }
    refused(
      () => parseIdentity(text({ ...IDENTITY_FILE, public: IDENTITY_FILE.public.toUpperCase() })),
      'bad_key_file',
    );
  });
});
