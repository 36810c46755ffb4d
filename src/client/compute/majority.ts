/**
 * Which result a requester accepts when it ran one job on several nodes: the one a strict
 * majority of the nodes asked agree on (docs/compute.md §2). Pure: the receipts have been
 * verified before they come here, and nothing is fetched or stored.
 */

/** The fields of a receipt body two honest nodes must report alike for the same job. */
export interface AgreementFields {
  readonly module: string;
  readonly inputs: readonly string[];
  readonly status: string;
  readonly exit_code: number | null;
  readonly output: string | null;
  readonly fuel: number;
  readonly fuel_limit: number;
  readonly bytes_read: number;
  readonly bytes_written: number;
}

/** What one node gave: a verified receipt, or the reason it gave none. */
export type NodeReport<R> =
  | {
      readonly node: string;
      readonly ok: true;
      readonly body: AgreementFields;
      readonly receipt: R;
    }
  | { readonly node: string; readonly ok: false; readonly code: string; readonly message: string };

export interface MajorityDecision<R> {
  /** The receipt the majority agreed on (the first node's of them), or undefined without one. */
  readonly winner: { readonly node: string; readonly receipt: R } | undefined;
  /** Nodes whose receipt agrees with the majority, in the order given. */
  readonly agreeing: string[];
  /** Nodes with a valid receipt that differs from the majority's (all of them when none). */
  readonly disagreeing: string[];
  readonly failed: { node: string; code: string; message: string }[];
}

/**
 * One text per agreement: equal texts exactly when the fields are equal. Wall time and
 * timestamps are left out because they differ between honest nodes.
 */
export function agreementKey(body: AgreementFields): string {
  return JSON.stringify([
    body.module,
    [...body.inputs],
    body.status,
    body.exit_code,
    body.output,
    body.fuel,
    body.fuel_limit,
    body.bytes_read,
    body.bytes_written,
  ]);
}

/**
 * Groups the receipts by agreement and picks the group with more than half of `asked` nodes
 * (the nodes the job was sent to, failed ones included: a node that gave nothing does not
 * lower the bar). Without such a group there is no winner, and every node that gave a receipt
 * is counted as disagreeing, since none can be told right.
 */
export function decideMajority<R>(
  reports: readonly NodeReport<R>[],
  asked = reports.length,
): MajorityDecision<R> {
  if (!Number.isInteger(asked) || asked < reports.length) {
    throw new RangeError('asked must count every node that reported');
  }
  const groups = new Map<string, { node: string; receipt: R }[]>();
  const failed: { node: string; code: string; message: string }[] = [];
  for (const report of reports) {
    if (!report.ok) {
      failed.push({ node: report.node, code: report.code, message: report.message });
      continue;
    }
    const key = agreementKey(report.body);
    const group = groups.get(key) ?? [];
    group.push({ node: report.node, receipt: report.receipt });
    groups.set(key, group);
  }
  let best: { node: string; receipt: R }[] | undefined;
  for (const group of groups.values()) {
    if (group.length * 2 > asked) best = group;
  }
  const agreeing = new Set(best?.map((g) => g.node) ?? []);
  const disagreeing = reports.filter((r) => r.ok && !agreeing.has(r.node)).map((r) => r.node);
  return {
    winner: best ? best[0] : undefined,
    agreeing: reports.filter((r) => agreeing.has(r.node)).map((r) => r.node),
    disagreeing,
    failed,
  };
}
