/**
 * What a requester accepts from a node for a finished job: a receipt signed by that node's
 * compute key for exactly this job, module and inputs, and a sealed output that opens for
 * that receipt and hashes to what it names. Each way a hostile node could bend it is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAnswer } from '../../src/client/compute/answer.js';
import { toBase64Url } from '../../src/compute/encoding.js';
import { signReceipt, type ReceiptBody } from '../../src/compute/receipt.js';
import { sealResult } from '../../src/compute/result.js';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { P2PError } from '../../src/errors.js';
import { generateIdentity } from '../../src/keys/keys.js';

const node = generateSigningKeyPair();
const nodeKey = toHex(node.publicKey);
const requester = generateIdentity();
const module = { sha256: 'aa'.repeat(32), size: 10, entries: ['01'.repeat(32)] };
const input = { sha256: 'bb'.repeat(32), size: 5, entries: ['02'.repeat(32)] };
const job = { id: 'cd'.repeat(16), sent: { hash: 'ef'.repeat(32), module, inputs: [input] } };
const OUTPUT = Buffer.from('{"words":3}\n');

function body(changes: Partial<ReceiptBody> = {}): ReceiptBody {
  return {
    job: job.sent.hash,
    job_id: job.id,
    node: nodeKey,
    module: module.sha256,
    inputs: [input.sha256],
    status: 'ok',
    message: null,
    exit_code: null,
    output: toHex(sha256(OUTPUT)),
    fuel: 1234,
    fuel_limit: 100000,
    wall_ms: 3,
    bytes_read: 5,
    bytes_written: OUTPUT.length,
    started_at: 1,
    finished_at: 4,
    attestation: null,
    ...changes,
  };
}

function answer(
  changes: Partial<ReceiptBody> = {},
  output: Buffer = OUTPUT,
  to = requester.box.publicKey,
) {
  const signed = signReceipt(body(changes), node);
  return {
    receipt: signed.receipt,
    output: toBase64Url(sealResult('output', to, signed.hash, output)),
    log: toBase64Url(sealResult('log', to, signed.hash, Buffer.from('a log line'))),
  };
}

function refused(value: unknown, reason: RegExp): void {
  assert.throws(
    () => checkAnswer('http://n', nodeKey, job, requester, value as never),
    (error: unknown) =>
      error instanceof P2PError && error.code === 'node_lied' && reason.test(error.message),
  );
}

test('an honest answer gives the output, the log and the verified receipt', () => {
  const checked = checkAnswer('http://n', nodeKey, job, requester, answer());
  assert.ok(checked.output.equals(OUTPUT));
  assert.equal(checked.log?.toString(), 'a log line');
  assert.equal(checked.receipt.body.fuel, 1234);
  // A run that stopped has no output to open.
  const stopped = checkAnswer('http://n', nodeKey, job, requester, {
    receipt: signReceipt(body({ status: 'out_of_fuel', output: null }), node).receipt,
  });
  assert.equal(stopped.output.length, 0);
});

test('a receipt not signed by the node asked, or altered, is refused', () => {
  const other = generateSigningKeyPair();
  const forged = signReceipt(body({ node: toHex(other.publicKey) }), other);
  refused({ ...answer(), receipt: forged.receipt }, /not signed by the node's compute key/);
  const good = answer();
  const altered = {
    ...good.receipt,
    body: good.receipt.body.replace('"fuel":1234', '"fuel":1235'),
  };
  refused({ ...good, receipt: altered }, /not signed/);
  refused({ ...good, receipt: undefined }, /missing/);
});

test('a receipt for another job, module or inputs is refused', () => {
  refused(answer({ job: '00'.repeat(32) }), /another job/);
  refused(answer({ job_id: '00'.repeat(16) }), /another job/);
  refused(answer({ module: 'cc'.repeat(32) }), /another module or other inputs/);
  refused(answer({ inputs: [] }), /another module or other inputs/);
  refused(answer({ inputs: [input.sha256, input.sha256] }), /another module or other inputs/);
});

test('an output that is missing, sealed to another key or for another receipt, or not the one named, is refused', () => {
  const good = answer();
  refused({ receipt: good.receipt }, /missing or does not open/);
  refused(answer({}, OUTPUT, generateIdentity().box.publicKey), /does not open/);
  // The output of one receipt does not open under another (the receipt hash is its aad).
  refused({ ...answer({ fuel: 99 }), output: good.output }, /does not open/);
  refused(answer({}, Buffer.from('{"words":4}\n')), /SHA-256 is not the one its receipt names/);
  refused({ ...good, output: 'not base64url!' }, /missing or does not open/);
});

test('knowing the job id alone, the receipt is still held to the id, the key and the output', () => {
  const lost = { id: job.id };
  const ran = checkAnswer(
    'http://n',
    nodeKey,
    lost,
    requester,
    answer({ module: 'cc'.repeat(32) }),
  );
  assert.equal(ran.receipt.body.fuel, 1234);
  const check = (value: unknown): unknown =>
    checkAnswer('http://n', nodeKey, lost, requester, value as never);
  const lied = (error: unknown): boolean => error instanceof P2PError && error.code === 'node_lied';
  assert.throws(() => check(answer({ job_id: '00'.repeat(16) })), lied);
  assert.throws(() => check({ receipt: answer().receipt }), lied);
  const other = generateSigningKeyPair();
  const forged = signReceipt(body({ node: toHex(other.publicKey) }), other).receipt;
  assert.throws(() => check({ ...answer(), receipt: forged }), lied);
});
