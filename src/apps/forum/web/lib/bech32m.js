// Bech32m (BIP 350) encoding and decoding of p2pcloud key texts, as docs/protocol.md §3.2
// specifies them: no 90-character limit, lower case, 5-bit regrouping with zero padding.

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const BECH32M_CONST = 0x2bc830a3;
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values) {
  let chk = 1;
  for (const value of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ value;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i];
  }
  return chk >>> 0;
}

function expandPrefix(prefix) {
  const out = [];
  for (const c of prefix) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of prefix) out.push(c.charCodeAt(0) & 31);
  return out;
}

function toWords(bytes) {
  const words = [];
  let acc = 0;
  let bits = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      words.push((acc >>> bits) & 31);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) words.push((acc << (5 - bits)) & 31);
  return words;
}

function fromWords(words) {
  const bytes = [];
  let acc = 0;
  let bits = 0;
  for (const word of words) {
    acc = (acc << 5) | word;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      bytes.push((acc >>> bits) & 0xff);
    }
    acc &= (1 << bits) - 1;
  }
  if (bits >= 5 || acc !== 0) throw new Error('key text has invalid padding');
  return Uint8Array.from(bytes);
}

export function encode(prefix, bytes) {
  const words = toWords(bytes);
  const check = polymod([...expandPrefix(prefix), ...words, 0, 0, 0, 0, 0, 0]) ^ BECH32M_CONST;
  let out = `${prefix}1`;
  for (const word of words) out += CHARSET[word];
  for (let i = 0; i < 6; i++) out += CHARSET[(check >>> (5 * (5 - i))) & 31];
  return out;
}

export function decode(text) {
  const trimmed = text.trim();
  if (trimmed !== trimmed.toLowerCase() && trimmed !== trimmed.toUpperCase()) {
    throw new Error('key text mixes upper and lower case');
  }
  const lower = trimmed.toLowerCase();
  const split = lower.lastIndexOf('1');
  if (split < 1 || lower.length - split < 7) throw new Error('not a key text');
  const prefix = lower.slice(0, split);
  const words = [];
  for (const c of lower.slice(split + 1)) {
    const value = CHARSET.indexOf(c);
    if (value < 0) throw new Error('key text has an invalid character');
    words.push(value);
  }
  if (polymod([...expandPrefix(prefix), ...words]) !== BECH32M_CONST) {
    throw new Error('key text checksum is wrong');
  }
  return { prefix, bytes: fromWords(words.slice(0, -6)) };
}
