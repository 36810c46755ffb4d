/**
 * `p2pcloud tunnel …`: TCP tunnels between the devices of a person, hosted by a running
 * gateway (docs/tunnels.md). `expose` and `connect` stay in the foreground printing what
 * happens until interrupted, then close their tunnel; `list` and `close` manage the others.
 */
import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import { EventStreamReader } from '../event-stream.js';
import {
  connectGateway,
  gatewayClientOptions,
  type GatewayClient,
  type GatewayFlags,
} from '../gateway-client.js';
import { parseIntOption } from '../parse.js';
import { stopSignal } from '../stop-signal.js';
import { groupId } from './group.js';
import { table } from './peers.js';

interface TunnelView {
  id: string;
  kind: 'expose' | 'connect';
  name: string;
  target?: string;
  person?: string;
  port?: number;
  relay?: string;
  direct?: string | null;
  connections_open: number;
  connections_total: number;
  connections_direct: number;
  connections_relayed: number;
  refused: number;
  failed: number;
  bytes_sent: number;
  bytes_received: number;
}

interface EventView {
  at: number;
  type: string;
  peer?: string;
  path?: string;
  code?: string;
  message?: string;
  sent?: number;
  received?: number;
}

/** An identity text cut to what tells devices apart on a terminal. */
function short(text: string | undefined): string {
  return text === undefined ? '' : `${text.slice(0, 16)}…`;
}

/** One line per event of a tunnel, as `expose` and `connect` print them. Pure. */
export function eventLine(event: EventView): string {
  const time = new Date(event.at).toISOString().slice(11, 19);
  const who = event.peer ? ` ${short(event.peer)}` : '';
  const via = event.path ? ` (${event.path})` : '';
  const why = event.message ? `: ${event.message}${event.code ? ` (${event.code})` : ''}` : '';
  switch (event.type) {
    case 'open':
      return `${time} open${who}${via}`;
    case 'close':
      return `${time} close${who}${via}, ${event.sent ?? 0} bytes sent, ${event.received ?? 0} received${why}`;
    default:
      return `${time} ${event.type}${who}${via}${why}`;
  }
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** Prints the tunnel's events until interrupted (then closes it) or until it is closed. */
async function follow(
  gateway: GatewayClient,
  tunnel: TunnelView,
  out: (line: string) => void,
  json: boolean,
): Promise<void> {
  const stop = new AbortController();
  let interrupted = false;
  void stopSignal().then(() => {
    interrupted = true;
    stop.abort();
  });
  const reader = new EventStreamReader();
  let closed = false;
  try {
    const response = await gateway.stream(`/api/tunnels/${tunnel.id}/events`, stop.signal);
    for await (const chunk of response) {
      for (const event of reader.push(chunk as Buffer)) {
        const parsed = JSON.parse(event.data) as EventView;
        if (parsed.type === 'closed') closed = true;
        out(json ? JSON.stringify(parsed) : eventLine(parsed));
      }
    }
  } catch (error) {
    if (!interrupted) {
      await abandon(gateway, tunnel.id);
      throw new P2PError(
        'node_unreachable',
        `lost the gateway at ${gateway.url} (${(error as Error).message}): did it stop?`,
      );
    }
  }
  if (interrupted) {
    await gateway.call('DELETE', `/api/tunnels/${tunnel.id}`).catch((error: P2PError) => {
      if (error.code !== 'no_such_tunnel') throw error;
    });
    return;
  }
  if (!closed) {
    await abandon(gateway, tunnel.id);
    throw new P2PError(
      'node_unreachable',
      `the gateway at ${gateway.url} ended the tunnel's events (did it stop?)`,
    );
  }
}

/** A command that stops following its tunnel closes it if it can: no tunnel outlives it. */
async function abandon(gateway: GatewayClient, id: string): Promise<void> {
  await gateway.call('DELETE', `/api/tunnels/${id}`).catch(() => undefined);
}

export function registerTunnelCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const tunnel = program
    .command('tunnel')
    .description("TCP tunnels between a person's devices, through a relay node or directly");

  gatewayClientOptions(
    tunnel
      .command('expose')
      .description(
        "let this person's other devices (and those --allow names) reach a TCP port of this device; runs until interrupted",
      )
      .requiredOption('--name <name>', "the tunnel's name, which connecting devices give")
      .requiredOption('--port <port>', 'the TCP port to expose')
      .option('--host <host>', 'the host the port is on (default 127.0.0.1)')
      .option(
        '--allow <who>',
        'also let in the devices of this person (p2pid1…) or the members of this group (id or name); repeatable',
        collect,
      )
      .option('--pad', 'take only connections whose records are padded to size buckets')
      .option(
        '--no-direct',
        'do not listen for direct connections: everything goes through the relay',
      )
      .option(
        '--advertise <host:port>',
        'the address other devices reach the direct listener at, when it is not its own (a forwarded port)',
      ),
  ).action(
    async (
      flags: GatewayFlags & {
        name: string;
        port: string;
        host?: string;
        allow?: string[];
        pad?: boolean;
        direct: boolean;
        advertise?: string;
      },
    ) => {
      const port = parseIntOption('--port', flags.port, 1, 65535);
      const gateway = await connectGateway(flags);
      const allow: string[] = [];
      for (const given of flags.allow ?? []) {
        allow.push(
          given.trim().startsWith('p2pid1') ? given.trim() : await groupId(gateway, given),
        );
      }
      const answer = await gateway.call<TunnelView>('POST', '/api/tunnels/expose', {
        name: flags.name,
        port,
        ...(flags.host !== undefined ? { host: flags.host } : {}),
        ...(allow.length > 0 ? { allow } : {}),
        pad: flags.pad === true,
        direct: flags.direct,
        ...(flags.advertise !== undefined ? { advertise: flags.advertise } : {}),
      });
      if (flags.json) out(JSON.stringify(answer));
      else
        out(
          `exposing ${answer.name} (${answer.target}) as tunnel ${answer.id} on ${answer.relay}${answer.direct ? `, directly at ${answer.direct}` : ''}`,
        );
      err('interrupt (Ctrl-C) to stop exposing it');
      await follow(gateway, answer, out, flags.json === true);
    },
  );

  gatewayClientOptions(
    tunnel
      .command('connect')
      .description(
        'carry connections to a local port to a tunnel another device exposes; runs until interrupted',
      )
      .argument('<name>', 'the name the tunnel was exposed under')
      .requiredOption(
        '--port <port>',
        'the local port to listen on, 127.0.0.1 only (0: any free one)',
      )
      .option('--of <person>', "the person who exposes it (p2pid1…; default this device's own)")
      .option(
        '--pad',
        'pad the records to size buckets (hides the sizes of what is sent, costs bytes)',
      )
      .option('--no-direct', 'never connect directly: always go through the relay'),
  ).action(
    async (
      name: string,
      flags: GatewayFlags & { port: string; of?: string; pad?: boolean; direct: boolean },
    ) => {
      const port = parseIntOption('--port', flags.port, 0, 65535);
      const gateway = await connectGateway(flags);
      const answer = await gateway.call<TunnelView>('POST', '/api/tunnels/connect', {
        name,
        port,
        ...(flags.of !== undefined ? { person: flags.of.trim() } : {}),
        pad: flags.pad === true,
        direct: flags.direct,
      });
      if (flags.json) out(JSON.stringify(answer));
      else out(`listening on 127.0.0.1:${answer.port} for ${answer.name} as tunnel ${answer.id}`);
      err('interrupt (Ctrl-C) to stop');
      await follow(gateway, answer, out, flags.json === true);
    },
  );

  gatewayClientOptions(
    tunnel.command('list').description("the gateway's tunnels with their connections and bytes"),
  ).action(async (flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const { tunnels } = await gateway.call<{ tunnels: TunnelView[] }>('GET', '/api/tunnels');
    if (flags.json) {
      for (const t of tunnels) out(JSON.stringify(t));
      return;
    }
    const rows = [
      ['ID', 'KIND', 'NAME', 'LOCAL', 'OPEN', 'TOTAL', 'DIRECT', 'RELAYED', 'SENT', 'RECEIVED'],
    ];
    for (const t of tunnels) {
      rows.push([
        t.id,
        t.kind,
        t.name,
        t.kind === 'expose' ? (t.target ?? '') : `127.0.0.1:${t.port}`,
        String(t.connections_open),
        String(t.connections_total),
        String(t.connections_direct),
        String(t.connections_relayed),
        String(t.bytes_sent),
        String(t.bytes_received),
      ]);
    }
    for (const line of table(rows)) out(line);
  });

  gatewayClientOptions(
    tunnel
      .command('close')
      .description('close a tunnel and every connection it carries')
      .argument(
        '<tunnel>',
        'its id, or the name of the one tunnel of that name (p2pcloud tunnel list)',
      ),
  ).action(async (given: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const { tunnels } = await gateway.call<{ tunnels: TunnelView[] }>('GET', '/api/tunnels');
    const byName = tunnels.filter((t) => t.name === given);
    const target =
      tunnels.find((t) => t.id === given) ?? (byName.length === 1 ? byName[0] : undefined);
    if (!target) {
      throw new P2PError(
        byName.length > 1 ? 'bad_argument' : 'no_such_tunnel',
        byName.length > 1
          ? `${byName.length} tunnels are named "${given.slice(0, 64)}": give the id of the one to close (p2pcloud tunnel list)`
          : `this gateway has no tunnel "${given.slice(0, 64)}": give an id or name from p2pcloud tunnel list`,
      );
    }
    const answer = await gateway.call<TunnelView>('DELETE', `/api/tunnels/${target.id}`);
    if (flags.json) out(JSON.stringify(answer));
    else out(`closed ${answer.id} ${answer.name}`);
  });
}
