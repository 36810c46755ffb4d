/**
 * `p2pcloud group …`: groups of a running gateway's person (docs/identity.md §5): create, list,
 * show, and the membership changes, each of which is a commit that starts a new epoch.
 */
import { Argument, Option, type Command } from 'commander';
import { P2PError } from '../../errors.js';
import {
  connectGateway,
  gatewayClientOptions,
  type GatewayClient,
  type GatewayFlags,
} from '../gateway-client.js';
import { table } from './peers.js';

const ROLES = ['admin', 'writer', 'reader'] as const;

interface GroupView {
  id: string;
  name: string;
  owner: string | null;
  role: string;
  writable: boolean;
  members: { member: string; role: string }[];
  epochs: number;
  epoch: string | null;
  complete: boolean;
  missing: number;
  clean: boolean | null;
  rejected: { op: string; reason: string }[];
}

interface Invitation {
  id: string;
  from: string;
  space: string;
  name: string;
  at: number;
}

const GROUP_ID = /^[0-9a-f]{32}$/;

/** The rows of `group list`. */
export function groupRows(groups: readonly GroupView[]): string[][] {
  const rows = [['ID', 'NAME', 'ROLE', 'MEMBERS', 'EPOCHS']];
  for (const g of groups) {
    rows.push([g.id, g.name, g.role, String(g.members.length), String(g.epochs)]);
  }
  return rows;
}

/** What `group show` prints: the group, then one row per member (the owner first). */
export function groupLines(g: GroupView): string[] {
  const health = [
    g.complete ? 'complete' : `incomplete (${g.missing} operation(s) not yet read)`,
    g.clean === false ? 'keys being changed' : undefined,
    g.rejected.length > 0 ? `${g.rejected.length} operation(s) rejected` : undefined,
  ].filter((x) => x !== undefined);
  const order = (role: string): number => ['owner', ...ROLES].indexOf(role);
  const members = [...g.members].sort((a, b) => order(a.role) - order(b.role));
  return [
    `group    ${g.id}`,
    `name     ${g.name}`,
    `owner    ${g.owner ?? 'unknown'}`,
    `you      ${g.role}${g.writable ? '' : ' (cannot write)'}`,
    `epoch    ${g.epochs}${g.epoch ? ` (${g.epoch.slice(0, 16)}…)` : ''}`,
    `log      ${health.join(', ')}`,
    '',
    ...table([['ROLE', 'MEMBER'], ...members.map((m) => [m.role, m.member])]),
  ];
}

/**
 * A group as the user named it: its id, or its name when exactly one of the caller's groups has
 * that name.
 */
export async function groupId(gateway: GatewayClient, given: string): Promise<string> {
  const text = given.trim();
  if (GROUP_ID.test(text)) return text;
  const { groups } = await gateway.call<{ groups: GroupView[] }>('GET', '/api/groups');
  const named = groups.filter((g) => g.name === text);
  if (named.length === 1) return named[0]!.id;
  if (named.length > 1) {
    throw new P2PError(
      'bad_argument',
      `${named.length} of your groups are named "${text}": give the id of the one you mean (${named.map((g) => g.id).join(', ')})`,
    );
  }
  throw new P2PError(
    'no_such_group',
    `you are in no group named "${text.slice(0, 100)}": give a name or id from p2pcloud group list`,
  );
}

/** A member as the user named them: an identity text, or "me" for one's own person. */
async function memberText(gateway: GatewayClient, given: string): Promise<string> {
  if (given.trim() !== 'me') return given.trim();
  return (await gateway.call<{ person: string }>('GET', '/api/devices')).person;
}

function membersPath(id: string, member?: string): string {
  return `/api/groups/${id}/members${member === undefined ? '' : `/${encodeURIComponent(member)}`}`;
}

export function registerGroupCommands(program: Command, out: (line: string) => void): void {
  const group = program
    .command('group')
    .description('create groups and manage their members through a running gateway');
  const print = (flags: GatewayFlags, answer: unknown, line: string): void =>
    out(flags.json ? JSON.stringify(answer) : line);

  gatewayClientOptions(
    group
      .command('create')
      .description('create a group that you own; prints its id')
      .argument('<name>', 'its name, 1 to 100 characters'),
  ).action(async (name: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const answer = await gateway.call<GroupView>('POST', '/api/groups', { name });
    print(flags, answer, answer.id);
  });

  gatewayClientOptions(group.command('list').description('the groups you are a member of')).action(
    async (flags: GatewayFlags) => {
      const gateway = await connectGateway(flags);
      const { groups } = await gateway.call<{ groups: GroupView[] }>('GET', '/api/groups');
      if (flags.json) {
        for (const g of groups) out(JSON.stringify(g));
        return;
      }
      if (groups.length === 0) {
        out('no groups');
        return;
      }
      for (const line of table(groupRows(groups))) out(line);
    },
  );

  gatewayClientOptions(
    group.command('invitations').description('groups you were added to and have not joined yet'),
  ).action(async (flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const { invitations } = await gateway.call<{ invitations: Invitation[] }>(
      'GET',
      '/api/invitations',
    );
    if (flags.json) {
      for (const i of invitations) out(JSON.stringify(i));
      return;
    }
    if (invitations.length === 0) {
      out('no invitations');
      return;
    }
    const rows = [['GROUP', 'NAME', 'FROM']];
    for (const i of invitations) rows.push([i.space, i.name, i.from]);
    for (const line of table(rows)) out(line);
  });

  gatewayClientOptions(
    group
      .command('join')
      .description('accept an invitation to a group; prints the group id')
      .argument('<group>', 'the group id or name of the invitation (p2pcloud group invitations)'),
  ).action(async (given: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const { invitations } = await gateway.call<{ invitations: Invitation[] }>(
      'GET',
      '/api/invitations',
    );
    const text = given.trim();
    const found = invitations.filter((i) => i.space === text || i.name === text || i.id === text);
    if (found.length === 0) {
      throw new P2PError(
        'no_such_invite',
        `no invitation to a group "${text.slice(0, 100)}": p2pcloud group invitations lists them (an invitation arrives with the gateway's next poll)`,
      );
    }
    if (new Set(found.map((i) => i.space)).size > 1) {
      throw new P2PError(
        'bad_argument',
        `invitations to ${found.length} groups match "${text}": give the group id (${found.map((i) => i.space).join(', ')})`,
      );
    }
    // Several welcomes to one group (one per epoch that reached this device) join it alike.
    const answer = await gateway.call<{ id: string; name: string }>(
      'POST',
      `/api/invitations/${found[0]!.id}/accept`,
      {},
    );
    print(flags, answer, answer.id);
  });

  gatewayClientOptions(
    group
      .command('show')
      .description("a group's members, roles, epoch and the state of its log")
      .argument('<group>', 'group id or name'),
  ).action(async (given: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const id = await groupId(gateway, given);
    const answer = await gateway.call<GroupView>('GET', `/api/groups/${id}`);
    if (flags.json) {
      out(JSON.stringify(answer));
      return;
    }
    for (const line of groupLines(answer)) out(line);
  });

  gatewayClientOptions(
    group
      .command('add')
      .description('add a person to a group (owner and admins only); a new epoch begins')
      .argument('<group>', 'group id or name')
      .argument('<member>', "the person's identity text (p2pid1…)")
      .addOption(
        new Option('--role <role>', 'what the member may do').choices(ROLES).default('writer'),
      ),
  ).action(async (given: string, member: string, flags: GatewayFlags & { role: string }) => {
    const gateway = await connectGateway(flags);
    const id = await groupId(gateway, given);
    const answer = await gateway.call<GroupView>('POST', membersPath(id), {
      member: member.trim(),
      role: flags.role,
    });
    print(
      flags,
      answer,
      `added ${member.trim()} to ${answer.name} as ${flags.role} (epoch ${answer.epochs})`,
    );
  });

  gatewayClientOptions(
    group
      .command('remove')
      .description(
        'remove a member (owner and admins; anyone may remove "me" to leave); a new epoch begins without them',
      )
      .argument('<group>', 'group id or name')
      .argument('<member>', 'the identity text of the member, or "me"'),
  ).action(async (given: string, member: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const id = await groupId(gateway, given);
    const target = await memberText(gateway, member);
    const answer = await gateway.call<GroupView & { left?: boolean }>(
      'DELETE',
      membersPath(id, target),
    );
    const line = answer.left
      ? `left ${id}`
      : `removed ${target} from ${answer.name} (epoch ${answer.epochs})`;
    print(flags, answer, line);
  });

  gatewayClientOptions(
    group
      .command('role')
      .description("change a member's role (owner and admins only); a new epoch begins")
      .argument('<group>', 'group id or name')
      .argument('<member>', 'the identity text of the member')
      .addArgument(new Argument('<role>', 'the new role').choices(ROLES)),
  ).action(async (given: string, member: string, role: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const id = await groupId(gateway, given);
    const answer = await gateway.call<GroupView>('PUT', membersPath(id, member.trim()), { role });
    print(flags, answer, `${member.trim()} is ${role} in ${answer.name} (epoch ${answer.epochs})`);
  });

  gatewayClientOptions(
    group
      .command('rekey')
      .description("change a group's keys without changing its members: a new epoch begins")
      .argument('<group>', 'group id or name'),
  ).action(async (given: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const id = await groupId(gateway, given);
    const answer = await gateway.call<GroupView>('POST', `/api/groups/${id}/rekey`, {});
    print(flags, answer, `rekeyed ${answer.name} (epoch ${answer.epochs})`);
  });
}
