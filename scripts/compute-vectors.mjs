#!/usr/bin/env node
// Writes docs/vectors/compute.json (docs/compute.md §11) from fixed keys and fixed HPKE
// ephemeral keys, using the compiled code in dist/ (build first: npx tsc -p tsconfig.json).
// test/unit/compute-vectors.test.ts rebuilds every value with node:crypto. The vectors are
// written once: a file whose content would change is refused unless --force is given, because
// a changed vector means a changed format.
//
//   node scripts/compute-vectors.mjs           write the file if missing, else check it
//   node scripts/compute-vectors.mjs --force   overwrite (only when the format is meant to change)
import { dist, writeVectors } from './lib/vector-file.mjs';
import { fill, hex, identityOf } from './lib/seeded-identity.mjs';

const { deriveKeyPair } = await dist('crypto/hpke.js');
const { signingKeyPairFromSeed } = await dist('crypto/ed25519.js');
const { boxKeyPairFromSecret } = await dist('crypto/x25519.js');
const { createEntry } = await dist('entry/create.js');
const { sha256 } = await dist('crypto/sha256.js');
const compute = await dist('compute/index.js');

function ephemeralOf(ikm) {
  const pair = deriveKeyPair(ikm);
  return {
    pair,
    vector: { ephemeral_ikm: hex(ikm), ephemeral_public: hex(pair.publicKey) },
  };
}

const requester = identityOf(fill(0x41, 32), fill(0x42, 32), { publicKeys: true });
const tableSeed = fill(0x43, 32);
const table = { signing: signingKeyPairFromSeed(tableSeed) };
const nodeSigning = signingKeyPairFromSeed(fill(0x44, 32));
const nodeBox = boxKeyPairFromSecret(fill(0x45, 32));
const platform = signingKeyPairFromSeed(fill(0x4a, 32));
const createdAt = 1767225600000; // 2026-01-01T00:00:00Z

function chunk(text, ephemeralIkm, pad) {
  const e = ephemeralOf(ephemeralIkm);
  const { bytes, id } = createEntry({
    table,
    recipient: requester.identity.box.publicKey,
    plaintext: Buffer.from(text, 'utf8'),
    createdAt,
    powBits: 0,
    ephemeral: e.pair,
    pad,
  });
  const key = compute.entryKeyFor(bytes, requester.identity.box);
  return {
    bytes,
    id,
    key,
    vector: {
      plaintext_utf8: text,
      ...e.vector,
      entry: hex(bytes),
      id: hex(id),
      padded: key.padded,
      key: hex(key.key),
      base_nonce: hex(key.baseNonce),
      grant_key: compute.grantKeyHex(key),
    },
  };
}

const moduleChunk = chunk('\u0000asm not really a module, only its bytes', fill(0x51, 32), false);
const inputChunk = chunk('one two three two', fill(0x52, 32), true);
const blobOf = (c) => {
  const plain = Buffer.from(c.vector.plaintext_utf8, 'utf8');
  return { sha256: hex(sha256(plain)), size: plain.length, entries: [hex(c.id)] };
};

const grantEphemeral = ephemeralOf(fill(0x53, 32));
const job = compute.createJobRequest({
  requester: requester.identity,
  node: { signing: hex(nodeSigning.publicKey), box: nodeBox.publicKey },
  resultTo: requester.identity.box.publicKey,
  module: blobOf(moduleChunk),
  inputs: [blobOf(inputChunk)],
  entry: '_start',
  args: ['--count', 'two'],
  limits: { memory_pages: 16, fuel: 1000000, wall_ms: 5000, output_bytes: 65536 },
  keys: [moduleChunk.key, inputChunk.key],
  id: '00112233445566778899aabbccddeeff',
  createdAt,
  expiresAt: createdAt + 600000,
  ephemeral: grantEphemeral.pair,
});
const grant = compute.openGrant(nodeBox, job.request.job, job.sealedGrant);
const grantText = compute.encodeGrant(grant);

const output = Buffer.from('two 2\n', 'utf8');
const log = Buffer.from('counted 4 words\n', 'utf8');
const reportData = compute.attestationReportData(nodeSigning.publicKey, nodeBox.publicKey);
const evidence = await new compute.TestEd25519Attester(platform).evidence(reportData);
const receipt = compute.signReceipt(
  {
    job: job.hash,
    job_id: job.body.id,
    node: hex(nodeSigning.publicKey),
    module: job.body.module.sha256,
    inputs: job.body.inputs.map((b) => b.sha256),
    status: 'ok',
    message: null,
    exit_code: null,
    output: hex(sha256(output)),
    fuel: 48213,
    fuel_limit: 1000000,
    wall_ms: 7,
    bytes_read: 17,
    bytes_written: output.length,
    started_at: createdAt + 1000,
    finished_at: createdAt + 1007,
    attestation: { kind: 'test-ed25519', evidence: Buffer.from(evidence).toString('base64url') },
  },
  nodeSigning,
);
const outputEphemeral = ephemeralOf(fill(0x54, 32));
const logEphemeral = ephemeralOf(fill(0x55, 32));

writeVectors('compute.json', 'compute', {
  description:
    'Compute jobs (docs/compute.md): per-entry grant keys, a job request with its sealed grant, a receipt, a sealed output and log, and test attestation evidence. Keys are fixed test keys: never use them for real data.',
  requester: requester.vector,
  table: { signing_seed: hex(tableSeed), public: hex(table.signing.publicKey) },
  node: {
    signing_seed: hex(nodeSigning.seed),
    signing_public: hex(nodeSigning.publicKey),
    box_secret: hex(nodeBox.secretKey),
    box_public: hex(nodeBox.publicKey),
  },
  entries: { module: moduleChunk.vector, input: inputChunk.vector },
  job: {
    text: job.request.job,
    grant: {
      ...grantEphemeral.vector,
      plaintext: grantText,
      aad: hex(compute.grantAad(job.request.job)),
      sealed: hex(job.sealedGrant),
    },
    signed_message: hex(compute.jobMessage(job.request.job, job.sealedGrant)),
    sig: job.request.sig,
    hash: job.hash,
    request: JSON.stringify(job.request),
  },
  receipt: {
    body: receipt.receipt.body,
    signed_message: hex(compute.receiptMessage(receipt.receipt.body)),
    sig: receipt.receipt.sig,
    hash: receipt.hash,
    text: JSON.stringify(receipt.receipt),
  },
  result: {
    output_utf8: output.toString('utf8'),
    output: {
      ...outputEphemeral.vector,
      sealed: hex(
        compute.sealResult(
          'output',
          requester.identity.box.publicKey,
          receipt.hash,
          output,
          outputEphemeral.pair,
        ),
      ),
    },
    log_utf8: log.toString('utf8'),
    log: {
      ...logEphemeral.vector,
      sealed: hex(
        compute.sealResult(
          'log',
          requester.identity.box.publicKey,
          receipt.hash,
          log,
          logEphemeral.pair,
        ),
      ),
    },
  },
  attestation: {
    platform_seed: hex(platform.seed),
    platform_public: hex(platform.publicKey),
    report_data: hex(reportData),
    evidence: hex(evidence),
  },
});
