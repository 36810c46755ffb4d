/**
 * Run as a child process under strace by spent-durability.test.ts: opens a node's spent-ticket
 * set with the durability given, then marks five tickets spent one put at a time, writing a
 * mark on stdout before and after, so that the syncs of the marks can be told apart.
 */
import { randomBytes } from 'node:crypto';
import { SpentSet } from '../../src/node/tickets/spent-set.js';

const durability = process.argv[3] === 'power' ? 'power' : 'process';
const spent = new SpentSet(process.argv[2]!, durability);
process.stdout.write('MARK-marks\n');
for (let i = 0; i < 5; i++) spent.mark([randomBytes(32)], Date.now());
process.stdout.write('MARK-end\n');
spent.close();
