/**
 * Billing test nodes: in-process nodes on 127.0.0.1 with compute and billing plugins (as the
 * command line runs them), a payer with its ledger, and the helpers that wait for a period to
 * end. A "lying" node is made by writing to its billing.sqlite beside it, as an operator could.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import Database from 'better-sqlite3';
import type { NodeConfigInput } from '../../src/node/config.js';
import type { RunningNode } from '../../src/node/server.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import { BillingPlugin } from '../../src/node/billing/plugin.js';
import { BILLING_DB_FILE } from '../../src/node/billing/usage-store.js';
import { Ledger } from '../../src/client/billing/ledger.js';
import type { Payer } from '../../src/client/billing/metered.js';
import { generateIdentity, type Identity } from '../../src/keys/keys.js';
import { saveIdentity } from '../../src/keys/key-file.js';
import { toHex } from '../../src/encoding/bytes.js';
import { spawnNode, startTestNode, type NodeProcess } from '../helpers/nodes.js';
import { runCli, type CliResult } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';

export const PERIOD_MS = 1000;
export const PRICES = { unit: 'sat', gb_month: 2000, gb_out: 500, mfuel: 3 };

export async function startBillingNode(
  overrides: Partial<NodeConfigInput> = {},
): Promise<RunningNode & { dataDir: string }> {
  const dataDir = tempDir();
  const compute = new ComputePlugin();
  const node = await startTestNode(
    {
      data_dir: dataDir,
      compute: { enabled: true, workers: 1 },
      billing: { enabled: true, receipt_period_ms: PERIOD_MS, prices: PRICES },
      ...overrides,
    },
    [compute, new BillingPlugin({ compute })],
  );
  return Object.assign(node, { dataDir });
}

export interface TestPayer extends Payer {
  readonly identity: Identity;
  readonly keyFile: string;
  readonly ledgerFile: string;
  readonly hex: string;
}

export async function newPayer(): Promise<TestPayer> {
  const dir = tempDir();
  const identity = generateIdentity();
  const keyFile = join(dir, 'payer.key');
  await saveIdentity(keyFile, identity);
  const ledgerFile = join(dir, 'ledger.json');
  const hex = toHex(identity.signing.publicKey);
  return {
    identity,
    key: identity.signing,
    ledger: await Ledger.open(ledgerFile, hex),
    keyFile,
    ledgerFile,
    hex,
  };
}

/** Resolves once the period that holds `at` (default now) has ended, with a margin. */
export async function afterPeriodOf(at = Date.now()): Promise<void> {
  const end = Math.floor(at / PERIOD_MS) * PERIOD_MS + PERIOD_MS;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, end - Date.now()) + 30));
}

/**
 * A node process with compute and billing on (no proof of work, one worker), stopped after the
 * test file: what the command-line tests of metered jobs run against.
 */
export async function spawnComputeBillingNode(): Promise<NodeProcess> {
  const config = join(tempDir(), 'node.json');
  writeFileSync(
    config,
    JSON.stringify({
      min_pow_bits: 0,
      min_pow_floor_bits: 0,
      verify_threads: 1,
      compute: { enabled: true, workers: 1 },
      billing: { enabled: true, receipt_period_ms: PERIOD_MS },
    }),
  );
  const node = await spawnNode(['--config', config]);
  after(() => node.stop());
  return node;
}

/** A dishonest operator bills the payer (hex) for a read of `bytes` it never made, now. */
export function billReadNeverMade(dataDir: string, payerHex: string, bytes = 999): void {
  const db = openBillingDb(dataDir);
  try {
    db.prepare('INSERT INTO served VALUES (?, ?, ?, ?)').run(
      Buffer.from(payerHex, 'hex'),
      randomBytes(32),
      bytes,
      Date.now(),
    );
  } finally {
    db.close();
  }
}

/** A second connection to a running node's billing.sqlite: what a dishonest operator edits. */
export function openBillingDb(dataDir: string): Database.Database {
  const db = new Database(join(dataDir, BILLING_DB_FILE));
  db.pragma('busy_timeout = 5000');
  return db;
}

/** A billing node's key as GET /billing/info names it: what payer headers for it sign. */
export async function nodeKeyOf(url: string): Promise<Buffer> {
  const info = (await (await fetch(`${url}/billing/info`)).json()) as { node: string };
  return Buffer.from(info.node, 'hex');
}

/** `p2pcloud billing check` of a test payer at a node, as a user runs it. */
export function billingCheck(
  url: string,
  payer: Pick<TestPayer, 'keyFile' | 'ledgerFile'>,
): Promise<CliResult> {
  return runCli([
    'billing',
    'check',
    '--node',
    url,
    '--payer',
    payer.keyFile,
    '--ledger',
    payer.ledgerFile,
  ]);
}
