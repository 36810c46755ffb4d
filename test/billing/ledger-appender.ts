/**
 * A payer's command in its own process for the ledger lock test: `rounds` times, opens the
 * ledger, records `lines` metered reads (each added, then answered), every third round
 * compacts it keeping everything, and closes it; as many short commands sharing one ledger do.
 * With `hold`, opens the ledger once, says "locked" and waits to be killed.
 *   node ledger-appender.js <ledger file> <payer hex> <tag> <rounds> <lines>
 *   node ledger-appender.js <ledger file> <payer hex> hold
 */
import { createHash } from 'node:crypto';
import { Ledger } from '../../src/client/billing/ledger.js';

const [path, payer, tag, rounds, lines] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
if (tag === 'hold') {
  await Ledger.open(path, payer);
  process.stdout.write('locked\n');
  setInterval(() => undefined, 60_000);
} else {
  const id = (round: number, line: number): string =>
    createHash('sha256').update(`${tag} ${round} ${line}`).digest('hex');
  for (let round = 0; round < Number(rounds); round++) {
    const ledger = await Ledger.open(path, payer);
    for (let line = 0; line < Number(lines); line++) {
      const request = id(round, line);
      await ledger.add({ kind: 'get', request, sent_at: Date.now(), bytes: null });
      await ledger.update(request, { bytes: round * 1000 + line });
    }
    if (round % 3 === 2) await ledger.compact({ next: 0, until: 0 }, () => true);
    await ledger.close();
  }
  process.stdout.write('done\n');
}
