/**
 * A compute node that lies: a real node (compute-node.ts) whose sandbox runs each job for
 * real, then hands back a different output, so that the node's own code signs a valid receipt
 * for a wrong result. What a dishonest operator could do; the requester must catch it.
 */
import { runComputeNodeMain } from './compute-node.js';
import type { JobSandbox } from '../../src/node/compute/sandbox-port.js';

/** The wrong output: the true one with its first byte changed (or one byte if it was empty). */
export function falsify(output: Buffer): Buffer {
  if (output.length === 0) return Buffer.from('x');
  const wrong = Buffer.from(output);
  wrong[0] = wrong[0]! === 0x39 ? 0x38 : 0x39;
  return wrong;
}

function lying(sandbox: JobSandbox): JobSandbox {
  return {
    prepare: (bytes, pages) => sandbox.prepare(bytes, pages),
    run: async (job) => {
      const outcome = await sandbox.run(job);
      if (outcome.status !== 'ok') return outcome;
      const output = falsify(outcome.output);
      return { ...outcome, output, bytesWritten: output.length };
    },
    stats: () => sandbox.stats(),
    close: () => sandbox.close(),
  };
}

await runComputeNodeMain(lying);
