/** Asserting the errors the project throws by their stable code. */
import assert from 'node:assert/strict';
import { P2PError } from '../../src/errors.js';

/** Asserts that `promise` rejects with a P2PError of `code` whose message matches `message`. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof P2PError, `not a P2PError: ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}
