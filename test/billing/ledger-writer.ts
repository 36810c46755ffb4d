/**
 * A payer in its own process for the crash test: metered puts to a node, one entry each, for
 * ever; prints the id of each entry the node acknowledged, so that the parent can kill it at
 * any moment and know what the ledger must hold.
 *   node ledger-writer.js <node url> <payer key file> <ledger file>
 */
import { Ledger } from '../../src/client/billing/ledger.js';
import { meteredPut } from '../../src/client/billing/metered.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { toHex } from '../../src/encoding/bytes.js';
import { loadIdentity } from '../../src/keys/key-file.js';
import { generateIdentity, generateTableKey } from '../../src/keys/keys.js';
import { makeEntry } from '../helpers/entries.js';

const [url, keyFile, ledgerFile] = process.argv.slice(2) as [string, string, string];
const identity = await loadIdentity(keyFile);
const ledger = await Ledger.open(ledgerFile, toHex(identity.signing.publicKey));
const table = generateTableKey();
const recipient = generateIdentity();
const payer = { key: identity.signing, ledger };
for (let i = 0; ; i++) {
  const { bytes } = makeEntry({
    table,
    recipient,
    text: `entry ${i} ${'x'.repeat(i % 200)}`,
    expiresAt: Date.now() + 600_000,
  });
  const answer = await meteredPut(url, [bytes], payer);
  if (answer.stored !== 1) throw new Error(`put ${i}: ${JSON.stringify(answer)}`);
  process.stdout.write(`${toHex(sha256(bytes))}\n`);
}
