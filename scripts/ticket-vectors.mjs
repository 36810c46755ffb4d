#!/usr/bin/env node
// Writes docs/vectors/tickets.json (docs/tickets.md §9): an issuer key, a key record, a ticket
// message, its blinding and the ticket, using the compiled code in dist/ (build first: npx tsc
// -p tsconfig.json). The RSA key, the blinding and the PSS salt are random, so the file is
// written once and then kept: test/market/ticket-vectors.test.ts recomputes every value that
// follows from them. Run with --force only when the format is meant to change.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync, createPublicKey } from 'node:crypto';
import { dist, force } from './lib/vector-file.mjs';

const root = new URL('..', import.meta.url).pathname;
const path = join(root, 'docs', 'vectors', 'tickets.json');
if (existsSync(path) && !force) {
  console.log(`${path} exists; its values are checked by test/market/ticket-vectors.test.ts`);
  process.exit(0);
}

const { keyIdOf, parseIssuerKey } = await dist('market/tickets/issuer-key.js');
const { encodeTicketMessage } = await dist('market/tickets/message.js');
const { blindMessage, finalizeSignature } = await dist('market/tickets/suite.js');
const { blindSign, signingKeyOf } = await dist('market/tickets/blind-sign.js');
const { encodeTicket, decodeTicket, spentIdOf } = await dist('market/tickets/ticket.js');

const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  publicExponent: 65537,
});
const jwk = privateKey.export({ format: 'jwk' });
const hexOf = (b64) => Buffer.from(b64, 'base64url').toString('hex');
const spki = publicKey.export({ format: 'der', type: 'spki' });
const keyId = keyIdOf(spki);
const record = {
  version: 1,
  id: keyId.toString('hex'),
  public_key: spki.toString('base64url'),
  modulus_bits: 2048,
  kind: 'write',
  value: 1048576,
  not_before: 1767225600,
  not_after: 4102444800,
};
const key = await parseIssuerKey(record);
const nonce = Buffer.alloc(32, 0x42);
const message = encodeTicketMessage({ keyId, nonce, kind: 'write', value: record.value });
const blinded = await blindMessage(key.cryptoKey, message);
const blindSig = blindSign(
  signingKeyOf(privateKey, createPublicKey(privateKey)),
  blinded.blindedMessage,
);
const signature = await finalizeSignature(
  key.cryptoKey,
  blinded.preparedMessage,
  blindSig,
  blinded.inverse,
);
const ticket = encodeTicket(blinded.preparedMessage, signature);

const vectors = {
  description:
    'Ticket format v1 (docs/tickets.md): an RSABSSA-SHA384-PSS-Randomized issuer key (public test key: never use it), its record, a ticket message, its blinding and the spendable ticket. Binary values are lowercase hex unless the name says base64url.',
  key: {
    n: hexOf(jwk.n),
    e: hexOf(jwk.e),
    d: hexOf(jwk.d),
    p: hexOf(jwk.p),
    q: hexOf(jwk.q),
    spki: spki.toString('hex'),
  },
  key_record: record,
  message: {
    domain_utf8: 'p2pcloud-ticket-v1',
    key_id: keyId.toString('hex'),
    nonce: nonce.toString('hex'),
    kind: 1,
    value: record.value,
    bytes: message.toString('hex'),
  },
  msg_prefix: Buffer.from(blinded.preparedMessage.subarray(0, 32)).toString('hex'),
  prepared_message: Buffer.from(blinded.preparedMessage).toString('hex'),
  blinded_message: Buffer.from(blinded.blindedMessage).toString('hex'),
  inverse: Buffer.from(blinded.inverse).toString('hex'),
  blind_signature: blindSig.toString('hex'),
  signature: Buffer.from(signature).toString('hex'),
  ticket_base64url: ticket,
  spent_id: spentIdOf(decodeTicket(ticket)).toString('hex'),
};
writeFileSync(path, `${JSON.stringify(vectors, null, 2)}\n`);
console.log(`wrote ${path}`);
