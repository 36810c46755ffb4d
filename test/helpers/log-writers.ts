/** Writers of log entries for the log tests: real identities, real signed statements. */
import { signStatement, type Statement } from '../../src/identity/statement.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';
import { logEntryBody } from '../../src/log/entry.js';

export interface Writer {
  readonly identity: Identity;
  readonly text: string;
  /** The writer's statement counter (`seq` of the statement, not of the log). */
  counter: number;
}

export function writer(): Writer {
  const identity = generateIdentity();
  return { identity, text: identityText(identity), counter: 0 };
}

/** One signed `log-entry` statement. */
export function logEntry(
  w: Writer,
  where: { space: string; log: string },
  seq: number,
  prev: string | null,
  at: number,
  data: string,
): Statement {
  return signStatement({
    kind: 'log-entry',
    person: w.text,
    signer: w.identity,
    seq: ++w.counter,
    at,
    body: logEntryBody({ ...where, seq, prev, data: Buffer.from(data) }),
  });
}

/** A chain by `w` whose entries carry the given clock readings, in seq order. */
export function chainAt(
  w: Writer,
  where: { space: string; log: string },
  times: readonly number[],
  data: (seq: number) => string,
): Statement[] {
  const out: Statement[] = [];
  times.forEach((at, i) => {
    out.push(logEntry(w, where, i + 1, out[i - 1]?.hash ?? null, at, data(i + 1)));
  });
  return out;
}
