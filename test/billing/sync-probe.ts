/**
 * Run as a child process under strace by durability.test.ts: records usage, then saves a
 * receipt, writing a mark on stdout before and after each, so that the syncs of each step can
 * be told apart in the trace.
 */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { UsageStore } from '../../src/node/billing/usage-store.js';

const store = new UsageStore(join(process.argv[2]!, 'billing.sqlite'));
const payer = randomBytes(32);
const now = Date.now();
store.addServed(payer, randomBytes(32), 10, now);
process.stdout.write('MARK-usage\n');
for (let i = 0; i < 20; i++) store.addServed(payer, randomBytes(32), 100 + i, now + i);
process.stdout.write('MARK-receipt\n');
store.saveReceipts(payer, [{ seq: 0, from: 0, to: 1000, text: '{}' }], 1000, 1);
process.stdout.write('MARK-end\n');
store.close();
