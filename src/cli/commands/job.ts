/**
 * `p2pcloud job run|status|result`: compute jobs from the command line (docs/compute.md).
 * `run` stores the module and inputs as blobs, runs the job on k nodes and writes the output
 * the majority agrees on; progress goes to stderr, the output to stdout or --out. `result
 * --payer` settles a metered job whose run was lost: its verified receipt goes to the ledger.
 */
import { stat, readFile, writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { MAX_BLOB_BYTES, type Blob } from '../../compute/blob.js';
import type { JobLimits } from '../../compute/job.js';
import { verifyReceipt, type VerifiedReceipt } from '../../compute/receipt.js';
import { Client } from '../../client/client.js';
import { fetchJobResult } from '../../client/compute/job-result.js';
import { storeBlob } from '../../client/compute/blob-store.js';
import { jobState, jobsInfo } from '../../client/compute/node-api.js';
import { readReputation } from '../../client/compute/reputation.js';
import { runJob, type JobResult } from '../../client/compute/run-job.js';
import { P2PError } from '../../errors.js';
import { LEDGER_HELP, PAYER_HELP, payersFor, type PayerFlags } from './billing.js';
import {
  fileReadReason,
  loadIdentityFile,
  loadTableKeyFile,
  nodeUrls,
  proxyFor,
  PROXY_HELP,
} from '../inputs.js';
import { collect, parseIntOption } from '../parse.js';

interface RunOptions {
  module: string;
  input?: string[];
  node: string[];
  nodes?: string;
  fuel?: string;
  memoryPages?: string;
  wallMs?: string;
  outputBytes?: string;
  arg?: string[];
  entry?: string;
  out?: string;
  identity: string;
  table: string;
  reputation?: string;
  json?: boolean;
  proxy?: string;
}

/** The values of `job run`, checked; what the files hold is read later. */
export interface RunPlan {
  readonly nodes: string[];
  readonly count: number;
  readonly limits: Partial<JobLimits>;
  readonly args: string[];
  readonly entry: string | undefined;
}

/** Checks the options of `job run` that need no file: each failure names its option. */
export function planRun(options: RunOptions): RunPlan {
  const nodes = nodeUrls('--node', options.node);
  if (new Set(nodes).size !== nodes.length) {
    throw new P2PError('bad_argument', '--node: a node is given twice; each runs the job once');
  }
  const count =
    options.nodes === undefined
      ? nodes.length
      : parseIntOption('--nodes', options.nodes, 1, nodes.length);
  const limits: Partial<JobLimits> = {
    ...(options.fuel !== undefined
      ? { fuel: parseIntOption('--fuel', options.fuel, 1, Number.MAX_SAFE_INTEGER) }
      : {}),
    ...(options.memoryPages !== undefined
      ? { memory_pages: parseIntOption('--memory-pages', options.memoryPages, 1, 65536) }
      : {}),
    ...(options.wallMs !== undefined
      ? { wall_ms: parseIntOption('--wall-ms', options.wallMs, 1, 86_400_000) }
      : {}),
    ...(options.outputBytes !== undefined
      ? { output_bytes: parseIntOption('--output-bytes', options.outputBytes, 0, 2 ** 32) }
      : {}),
  };
  if (options.entry !== undefined && !/^[\x21-\x7e]{1,256}$/.test(options.entry)) {
    throw new P2PError('bad_argument', '--entry: expected the name of an exported function');
  }
  return { nodes, count, limits, args: options.arg ?? [], entry: options.entry };
}

/** Reads a module or input file, refusing one larger than a blob can be before reading it. */
async function readBlobFile(option: string, path: string): Promise<Buffer> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
    if (info.size > MAX_BLOB_BYTES) {
      throw new P2PError(
        'bad_argument',
        `${option}: ${path} has ${info.size} bytes; a job reads at most ${MAX_BLOB_BYTES} per file`,
      );
    }
    return await readFile(path);
  } catch (error) {
    if (error instanceof P2PError) throw error;
    throw new P2PError(
      'bad_argument',
      `${option}: cannot read ${path}: ${fileReadReason(error as NodeJS.ErrnoException)}`,
    );
  }
}

function short(text: string): string {
  return text.length > 16 ? `${text.slice(0, 16)}…` : text;
}

/** One line of what a receipt says, for people. */
export function describeReceipt(receipt: VerifiedReceipt): string {
  const b = receipt.body;
  const parts = [
    b.status === 'exit' ? `exit ${b.exit_code}` : b.status,
    `fuel ${b.fuel}`,
    `${b.wall_ms} ms`,
    `read ${b.bytes_read} B`,
    `wrote ${b.bytes_written} B`,
  ];
  if (b.output !== null) parts.push(`output ${short(b.output)}`);
  if (b.message) parts.push(b.message);
  return parts.join(', ');
}

function resultJson(result: JobResult, withOutput: boolean): Record<string, unknown> {
  return {
    id: result.id,
    status: result.receipt.body.status,
    receipt: result.receipt.receipt,
    receipt_hash: result.receipt.hash,
    agreeing: result.agreeing,
    disagreeing: result.disagreeing,
    failed: result.failed,
    nodes: result.nodes.map((n) => ({
      node: n.node,
      id: n.id ?? null,
      key: n.key ?? null,
      verdict: n.verdict,
      ...(n.code ? { code: n.code, message: n.message } : {}),
    })),
    ...(withOutput ? { output_base64: result.output.toString('base64') } : {}),
  };
}

/** A stopped run is the job's failure, not the nodes': said in one line, after the output. */
function stoppedRun(receipt: VerifiedReceipt): P2PError | undefined {
  const b = receipt.body;
  if (b.status === 'ok') return undefined;
  const what = b.status === 'exit' ? `exited with code ${b.exit_code}` : `stopped: ${b.status}`;
  return new P2PError('job_stopped', `the job ${what}${b.message ? ` (${b.message})` : ''}`);
}

export function registerJobCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const job = program
    .command('job')
    .description('run WebAssembly jobs on nodes, next to the data (docs/compute.md)');

  job
    .command('run')
    .description('run a module on k nodes and take the output a majority of them agree on')
    .requiredOption('--module <file>', 'the WebAssembly module (.wasm)')
    .option(
      '--input <file>',
      'an input file, read by the module on fd 3, 4, … (repeatable)',
      collect,
    )
    .requiredOption('--node <url>', 'a compute node URL (repeatable)', collect)
    .option('--nodes <n>', 'run on this many of the nodes given (default: all)')
    .option('--fuel <n>', 'fuel limit (default: 1000000000, or the node maximum if lower)')
    .option('--memory-pages <n>', 'memory limit in 64 KiB pages (default 256)')
    .option('--wall-ms <n>', 'wall-clock limit in ms (default 5000)')
    .option('--output-bytes <n>', 'most output bytes (default 1048576)')
    .option('--arg <text>', 'an argument for the module (repeatable)', collect)
    .option('--entry <name>', 'the exported function to run (default _start)')
    .option('--out <file>', 'write the output to this file instead of stdout')
    .requiredOption('--identity <file>', 'your identity key file: inputs are sealed to it')
    .requiredOption('--table <file>', 'table key file the module and inputs are stored in')
    .option('--reputation <file>', "record each node's verdict in this file (JSON)")
    .option('--json', 'print the result as one JSON object (output base64 unless --out)')
    .option('--payer <file>', PAYER_HELP)
    .option('--ledger <file>', LEDGER_HELP)
    .option('--proxy <url>', PROXY_HELP)
    .action(async (options: RunOptions & PayerFlags) => {
      const plan = planRun(options);
      const proxy = proxyFor(options.proxy, '--node', plan.nodes);
      const identity = await loadIdentityFile('--identity', options.identity);
      const table = await loadTableKeyFile('--table', options.table);
      // The blobs' puts and the job are metered alike: everything sent to the payer's node.
      const payers = await payersFor(plan.nodes, options);
      // A damaged record is refused before anything is stored or sent.
      if (options.reputation !== undefined) await readReputation(options.reputation);
      const moduleBytes = await readBlobFile('--module', options.module);
      const inputFiles = options.input ?? [];
      const inputBytes = await Promise.all(inputFiles.map((f) => readBlobFile('--input', f)));
      const client = new Client({ nodes: plan.nodes, ...(proxy ? { proxy } : {}), ...payers });
      const owner = { table, identity };
      const store = async (what: string, bytes: Buffer): Promise<Blob> => {
        const blob = await storeBlob(client, owner, bytes);
        err(`stored ${what} (${bytes.length} bytes, ${blob.entries.length} chunk entries)`);
        return blob;
      };
      const module = await store(options.module, moduleBytes);
      const inputs: Blob[] = [];
      for (const [i, bytes] of inputBytes.entries())
        inputs.push(await store(inputFiles[i]!, bytes));
      const result = await runJob({
        nodes: plan.nodes,
        count: plan.count,
        identity,
        module,
        inputs,
        args: plan.args,
        ...(plan.entry !== undefined ? { entry: plan.entry } : {}),
        limits: plan.limits,
        client,
        ...payers,
        ...(options.reputation !== undefined ? { reputation: options.reputation } : {}),
        onProgress: (p) => err(`${p.node}: ${p.state}${p.message ? ` (${p.message})` : ''}`),
      });
      const agreed = `${result.agreeing.length} of ${plan.count} nodes agree`;
      err(`job ${result.id}: ${describeReceipt(result.receipt)}; ${agreed}`);
      for (const node of result.disagreeing) err(`${node}: DISAGREES with the majority`);
      for (const f of result.failed) err(`${f.node}: failed (${f.code}): ${f.message}`);
      if (options.out !== undefined) await writeFile(options.out, result.output);
      if (options.json) out(JSON.stringify(resultJson(result, options.out === undefined)));
      else if (options.out === undefined) process.stdout.write(result.output);
      const stopped = stoppedRun(result.receipt);
      if (stopped) throw stopped;
    });

  job
    .command('status')
    .description("a job's state on one node, and its receipt once it is done")
    .argument('<id>', 'the job id (32 hex)')
    .requiredOption('--node <url>', 'the node the job was sent to')
    .option('--json', "print the node's answer (without the sealed output) as JSON")
    .option('--proxy <url>', PROXY_HELP)
    .action(async (id: string, options: { node: string; json?: boolean; proxy?: string }) => {
      const [node] = nodeUrls('--node', [options.node]);
      const { state, key } = await fetchState(id, node!, options.proxy);
      const receipt =
        state.receipt === undefined ? undefined : verifiedFor(id, node!, key, state.receipt);
      if (options.json) {
        out(
          JSON.stringify({
            id,
            status: state.status,
            ...(receipt ? { receipt: receipt.receipt, receipt_hash: receipt.hash } : {}),
          }),
        );
      } else {
        out(receipt ? `${state.status}: ${describeReceipt(receipt)}` : state.status);
      }
    });

  job
    .command('result')
    .description("a finished job's output from one node, opened and checked against its receipt")
    .argument('<id>', 'the job id (32 hex)')
    .requiredOption('--node <url>', 'the node the job was sent to')
    .requiredOption('--identity <file>', 'the identity key file the result is sealed to')
    .option('--out <file>', 'write the output to this file instead of stdout')
    .option(
      '--payer <file>',
      "note the verified compute receipt in this payer's ledger: the fuel the node may bill",
    )
    .option('--ledger <file>', LEDGER_HELP)
    .option('--proxy <url>', PROXY_HELP)
    .action(
      async (
        id: string,
        options: { node: string; identity: string; out?: string; proxy?: string } & PayerFlags,
      ) => {
        const [node] = nodeUrls('--node', [options.node]);
        const identity = await loadIdentityFile('--identity', options.identity);
        const payer = (await payersFor([node!], options)).payers?.[node!];
        try {
          if (!/^[0-9a-f]{32}$/.test(id)) throw notJobId(id);
          const proxy = proxyFor(options.proxy, '--node', [node!]);
          const client = new Client({ nodes: [node!], ...(proxy ? { proxy } : {}) });
          const checked = await fetchJobResult({
            node: node!,
            id,
            identity,
            ...(payer ? { payer } : {}),
            ...(client.connector ? { options: { connector: client.connector } } : {}),
          });
          const receipt = checked.receipt;
          err(`job ${id}: ${describeReceipt(receipt)}`);
          if (payer) {
            err(
              `job ${id}: receipt ${short(receipt.hash)} (fuel ${receipt.body.fuel}) noted in the ledger ${payer.ledger.path}`,
            );
          }
          if (options.out !== undefined) await writeFile(options.out, checked.output);
          else process.stdout.write(checked.output);
          const stopped = stoppedRun(receipt);
          if (stopped) throw stopped;
        } finally {
          await payer?.ledger.close();
        }
      },
    );
}

function notJobId(id: string): P2PError {
  return new P2PError(
    'bad_argument',
    `"${short(id)}" is not a job id (expected 32 hex characters)`,
  );
}

async function fetchState(
  id: string,
  node: string,
  proxyOption: string | undefined,
): Promise<{ state: Awaited<ReturnType<typeof jobState>>; key: string }> {
  if (!/^[0-9a-f]{32}$/.test(id)) throw notJobId(id);
  const proxy = proxyFor(proxyOption, '--node', [node]);
  const client = new Client({ nodes: [node], ...(proxy ? { proxy } : {}) });
  const options = client.connector ? { connector: client.connector } : {};
  // The node's compute key: a receipt it shows must be signed by it, not merely by someone.
  const info = await jobsInfo(node, options);
  return { state: await jobState(node, id, 0, options), key: info.node };
}

/** The receipt of job `id`, signed by the node's compute key; node_lied otherwise. */
function verifiedFor(id: string, node: string, key: string, value: unknown): VerifiedReceipt {
  const receipt = verifyReceipt(value, key);
  if (!receipt || receipt.body.job_id !== id) {
    throw new P2PError('node_lied', `${node}: the receipt of job ${id} does not verify`);
  }
  return receipt;
}
