/**
 * `p2pcloud device …`: the devices of the person a running gateway acts for (docs/identity.md
 * §3): hand out a link code, link this gateway's identity with one, list, revoke.
 */
import type { Command } from 'commander';
import { P2PError } from '../../errors.js';
import { connectGateway, gatewayClientOptions, type GatewayFlags } from '../gateway-client.js';
import { parseIntOption, parseNumberOption } from '../parse.js';
import { table } from './peers.js';

interface DeviceView {
  device: string;
  name: string;
  root: boolean;
  certified_at: number | null;
  issuer: string | null;
  revoked_at: number | null;
}

interface DevicesAnswer {
  person: string;
  device: string;
  root: boolean;
  devices: DeviceView[];
}

/** Seconds are precise enough for people; the JSON output keeps milliseconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The rows of `device list`: one per device, this gateway's own marked. */
export function deviceRows(answer: DevicesAnswer): string[][] {
  const rows = [['NAME', 'DEVICE', 'CERTIFIED', 'REVOKED']];
  for (const d of answer.devices) {
    rows.push([
      d.device === answer.device ? `${d.name} (this one)` : d.name,
      d.device,
      d.root ? 'root' : d.certified_at !== null ? isoTime(d.certified_at) : 'no',
      d.revoked_at !== null ? isoTime(d.revoked_at) : 'no',
    ]);
  }
  return rows;
}

/**
 * A device as the user named it: its identity text, or the name it was linked under when that
 * names exactly one unrevoked device.
 */
function findDevice(answer: DevicesAnswer, given: string): string {
  const text = given.trim();
  if (text.toLowerCase().startsWith('p2pid1')) return text;
  const named = answer.devices.filter((d) => !d.root && d.name === text && d.revoked_at === null);
  if (named.length === 1) return named[0]!.device;
  if (named.length > 1) {
    throw new P2PError(
      'bad_argument',
      `${named.length} devices are named "${text}": give the identity text of the one to revoke (p2pcloud device list)`,
    );
  }
  throw new P2PError(
    'no_such_device',
    `this person has no device named "${text.slice(0, 64)}": give a name or identity text from p2pcloud device list`,
  );
}

export function registerDeviceCommands(
  program: Command,
  out: (line: string) => void,
  err: (line: string) => void,
): void {
  const device = program
    .command('device')
    .description("link, list and revoke the devices of a running gateway's person");

  gatewayClientOptions(
    device
      .command('link')
      .description(
        'print a one-time code that links a new device to this person (give it to p2pcloud device accept)',
      )
      .option('--ttl <seconds>', 'how long the code works, 30 to 86400 seconds (default 600)'),
  ).action(async (flags: GatewayFlags & { ttl?: string }) => {
    const ttl =
      flags.ttl === undefined ? undefined : parseIntOption('--ttl', flags.ttl, 30, 86_400);
    const gateway = await connectGateway(flags);
    const answer = await gateway.call<{ code: string; expires_at: number; person: string }>(
      'POST',
      '/api/devices/link',
      ttl === undefined ? {} : { ttl_seconds: ttl },
    );
    if (flags.json) {
      out(JSON.stringify(answer));
      return;
    }
    // Only the code on stdout, so that a script can capture it.
    out(answer.code);
    err(
      `valid once, until ${isoTime(answer.expires_at)}: run p2pcloud device accept CODE on the new device`,
    );
  });

  gatewayClientOptions(
    device
      .command('accept')
      .description(
        "link this gateway's identity, as a new device, to the person who made the code; prints that person",
      )
      .argument('<code>', 'the link code (p2plink1…)')
      .option('--name <name>', 'what to call this device, 1 to 64 characters (default "device")')
      .option(
        '--wait <seconds>',
        'how long to wait for the linking device to answer, 1 to 600 (default 60)',
      ),
  ).action(async (code: string, flags: GatewayFlags & { name?: string; wait?: string }) => {
    const wait = flags.wait === undefined ? 60 : parseNumberOption('--wait', flags.wait, 1, 600);
    if (flags.name !== undefined && (flags.name.trim() === '' || [...flags.name].length > 64)) {
      throw new P2PError('bad_argument', '--name: a device name is 1 to 64 characters');
    }
    const gateway = await connectGateway(flags);
    const answer = await gateway.call<{ person: string; device: string; groups: number }>(
      'POST',
      '/api/devices/accept',
      { code, wait_seconds: wait, ...(flags.name !== undefined ? { name: flags.name } : {}) },
      // The gateway waits up to `wait` for the answer, then reads the person's directory.
      (wait + 60) * 1000,
    );
    if (flags.json) {
      out(JSON.stringify(answer));
      return;
    }
    out(answer.person);
    err(`linked: this device acts for that person now; ${answer.groups} group(s) shared with it`);
  });

  gatewayClientOptions(
    device
      .command('list')
      .description("the devices of this gateway's person: name, identity, certified, revoked"),
  ).action(async (flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const answer = await gateway.call<DevicesAnswer>('GET', '/api/devices');
    if (flags.json) {
      for (const d of answer.devices)
        out(JSON.stringify({ ...d, this: d.device === answer.device }));
      return;
    }
    for (const line of table(deviceRows(answer))) out(line);
  });

  gatewayClientOptions(
    device
      .command('revoke')
      .description(
        "revoke a device (needs the gateway that holds the person's root key); prints the groups whose keys changed",
      )
      .argument('<device>', 'the identity text (p2pid1…) or name of the device'),
  ).action(async (given: string, flags: GatewayFlags) => {
    const gateway = await connectGateway(flags);
    const devices = await gateway.call<DevicesAnswer>('GET', '/api/devices');
    const target = findDevice(devices, given);
    const answer = await gateway.call<{ revoked: string; revoked_at: number; rekeyed: string[] }>(
      'POST',
      `/api/devices/${encodeURIComponent(target)}/revoke`,
      {},
    );
    if (flags.json) {
      out(JSON.stringify(answer));
      return;
    }
    out(`revoked ${answer.revoked}`);
    const groups =
      answer.rekeyed.length > 0
        ? (await gateway.call<{ groups: { id: string; name: string }[] }>('GET', '/api/groups'))
            .groups
        : [];
    for (const id of answer.rekeyed) {
      const name = groups.find((g) => g.id === id)?.name;
      out(`rekeyed ${id}${name !== undefined ? ` ${name}` : ''}`);
    }
  });
}
