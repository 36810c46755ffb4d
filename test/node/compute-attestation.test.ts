/**
 * The attestation hook on a real node: a module named in compute.attestation makes the
 * attester, the node publishes its evidence over its compute keys in GET /jobs/info and puts it
 * in every receipt; a verifier given the platform key accepts it, and a bad module stops the
 * start with bad_config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { generateSigningKeyPair } from '../../src/crypto/ed25519.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { P2PError } from '../../src/errors.js';
import {
  attestationReportData,
  TestEd25519Verifier,
  verifyReceipt,
} from '../../src/compute/index.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import { startTestNode } from '../helpers/nodes.js';
import { repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';
import { ECHO, jobInfo, newJob, storeBlob, submit, waitDone } from '../helpers/compute-jobs.js';

const attestationJs = pathToFileURL(
  join(repoRoot, 'dist', 'src', 'compute', 'attestation.js'),
).href;
const ed25519Js = pathToFileURL(join(repoRoot, 'dist', 'src', 'crypto', 'ed25519.js')).href;

function attesterModule(dir: string): string {
  const path = join(dir, 'platform.mjs');
  writeFileSync(
    path,
    `import { TestEd25519Attester } from ${JSON.stringify(attestationJs)};
import { signingKeyPairFromSeed } from ${JSON.stringify(ed25519Js)};
export default (options) => new TestEd25519Attester(signingKeyPairFromSeed(Buffer.from(options.seed, 'hex')));
`,
  );
  return path;
}

test('a node with an attester publishes evidence over its keys and puts it in receipts', async () => {
  const platform = generateSigningKeyPair();
  const dir = tempDir();
  const node = await startTestNode(
    {
      compute: {
        enabled: true,
        attestation: {
          module: attesterModule(dir),
          options: { seed: platform.seed.toString('hex') },
        },
      },
    },
    [new ComputePlugin()],
  );
  const info = (await jobInfo(node.url)) as unknown as {
    node: string;
    box: string;
    attestation: { kind: string; evidence: string };
  };
  assert.equal(info.attestation.kind, 'test-ed25519');
  const reportData = attestationReportData(
    Buffer.from(info.node, 'hex'),
    Buffer.from(info.box, 'hex'),
  );
  const evidence = Buffer.from(info.attestation.evidence, 'base64url');
  const verifier = new TestEd25519Verifier(platform.publicKey);
  assert.deepEqual(await verifier.verify(evidence, reportData), { ok: true });
  // Evidence of this platform does not vouch for other keys, nor does another platform's key.
  const otherKeys = attestationReportData(Buffer.from(info.node, 'hex'), Buffer.alloc(32, 9));
  assert.equal((await verifier.verify(evidence, otherKeys)).ok, false);
  const stranger = new TestEd25519Verifier(generateSigningKeyPair().publicKey);
  assert.equal((await stranger.verify(evidence, reportData)).ok, false);

  const owner = { identity: generateIdentity(), table: generateTableKey() };
  const module = await storeBlob(node.url, ECHO, owner);
  const job = newJob(info, owner.identity, module, []);
  assert.equal((await submit(node.url, job.request)).status, 202);
  const answer = await waitDone(node.url, job.body.id);
  const receipt = verifyReceipt(answer.receipt, info.node)!;
  assert.deepEqual(receipt.body.attestation, info.attestation);
});

test('an attestation module that is missing or makes no attester stops the start', async () => {
  const dir = tempDir();
  const notAttester = join(dir, 'nothing.mjs');
  writeFileSync(notAttester, 'export default () => ({ kind: "x" });\n');
  for (const module of [join(dir, 'absent.mjs'), notAttester]) {
    await assert.rejects(
      startTestNode({ compute: { enabled: true, attestation: { module } } }, [new ComputePlugin()]),
      (error: unknown) => {
        assert.ok(error instanceof P2PError);
        assert.equal(error.code, 'bad_config');
        assert.match(error.message, /compute\.attestation\.module/);
        return true;
      },
    );
  }
});
