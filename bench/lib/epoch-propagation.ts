/**
 * How long a new epoch takes to reach the other members' gateways: one node process and
 * `gateways` gateway processes, each its own person. The first creates a group, adds the
 * others as writers (each accepts its invitation) and then removes the last one; the time is
 * from the removal's answer (its entries are on the node) until every remaining member's
 * gateway reports the new epoch in GET /api/groups/:id.
 */
import { startBenchGateway, ok, type BenchGateway } from './gateway-process.js';
import { startBenchNode, type BenchNode } from './node-process.js';
import { until } from './until.js';

export interface Propagation {
  readonly gateways: number;
  readonly pollIntervalMs: number;
  /** Wall ms of the DELETE at the committing gateway (plan, proof of work, put). */
  readonly commitMs: number;
  /** Per watching member: ms from the DELETE's answer until it reported the new epoch. */
  readonly reachedMs: number[];
}

export async function epochPropagation(options: {
  gateways: number;
  pollIntervalSeconds: number;
  powBits: number;
  scratch: (prefix: string) => string;
  log: (line: string) => void;
}): Promise<Propagation> {
  const node: BenchNode = await startBenchNode([], options.scratch('id-node-'), {
    minPowBits: options.powBits,
  });
  const gateways: BenchGateway[] = [];
  try {
    options.log(
      `  starting ${options.gateways} gateways (poll every ${options.pollIntervalSeconds} s)…`,
    );
    for (let i = 0; i < options.gateways; i++) {
      gateways.push(
        await startBenchGateway({
          nodes: [node.url],
          dataDir: options.scratch(`id-gw${i}-`),
          pollIntervalSeconds: options.pollIntervalSeconds,
        }),
      );
    }
    const [owner, ...others] = gateways as [BenchGateway, ...BenchGateway[]];
    const created = await ok(owner.api('POST', '/api/groups', { name: 'bench' }), 'create group');
    const id = created.id as string;
    for (const member of others) {
      await ok(
        owner.api('POST', `/api/groups/${id}/members`, { member: member.identity, role: 'writer' }),
        'add member',
      );
    }
    options.log('  members accept their invitations…');
    for (const member of others) {
      const invitation = await until(
        'an invitation',
        async () => {
          await member.api('POST', '/api/refresh', {});
          const list = await ok(member.api('GET', '/api/invitations'), 'invitations');
          return (list.invitations as { id: string; space: string }[]).find((i) => i.space === id);
        },
        60_000,
        200,
      );
      await ok(member.api('POST', `/api/invitations/${invitation.id}/accept`, {}), 'accept');
    }
    const epochOf = async (gateway: BenchGateway): Promise<string | undefined> => {
      const answer = await gateway.api('GET', `/api/groups/${id}`);
      return answer.status === 200 ? (answer.body.epoch as string) : undefined;
    };
    const before = (await epochOf(owner))!;
    for (const member of others) {
      await until(
        "the group's current epoch at every member",
        async () => ((await epochOf(member)) === before ? true : undefined),
        60_000,
        200,
      );
    }
    const removed = others.at(-1)!;
    const watchers = others.slice(0, -1);
    // Let every gateway finish the round that brought it there, so that rounds run on their own timers.
    await new Promise((resolve) => setTimeout(resolve, options.pollIntervalSeconds * 1000));
    options.log(`  removing a member; ${watchers.length} gateways watch for the new epoch…`);
    const started = performance.now();
    const after = await ok(
      owner.api('DELETE', `/api/groups/${id}/members/${removed.identity}`),
      'remove member',
    );
    const answered = performance.now();
    const epoch = after.epoch as string;
    if (!epoch || epoch === before) throw new Error('the removal did not start a new epoch');
    const reachedMs = await Promise.all(
      watchers.map(async (member) => {
        await until(
          'the new epoch',
          async () => ((await epochOf(member)) === epoch ? true : undefined),
          60_000,
          10,
        );
        return performance.now() - answered;
      }),
    );
    return {
      gateways: options.gateways,
      pollIntervalMs: options.pollIntervalSeconds * 1000,
      commitMs: answered - started,
      reachedMs,
    };
  } finally {
    for (const gateway of gateways) await gateway.stop().catch(() => undefined);
    await node.stop().catch(() => undefined);
  }
}
