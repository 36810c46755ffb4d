/**
 * Tunnels end to end with real processes (docs/tunnels.md): one node relaying, behind a TCP
 * proxy that looks for plaintext in everything it forwards; device A (a person's root) and
 * device B (linked to that person) each run a gateway; a stranger runs another. The `p2pcloud
 * tunnel` commands run as child processes against the gateways. The tests run in order: the
 * relay restart and the revocation of B come last.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, test } from 'node:test';
import { listenOnRelay } from '../../src/client/relay/index.js';
import { TUNNEL_LIMITS } from '../../src/gateway/tunnel/limits.js';
import { serviceId } from '../../src/gateway/tunnel/service-id.js';
import { generateIdentity } from '../../src/keys/keys.js';
import { eventually } from '../helpers/gateways.js';
import { freePort } from '../helpers/http.js';
import { ok, startDevice, type Device } from '../helpers/identity.js';
import { runCli } from '../helpers/spawn.js';
import { tempDir } from '../helpers/tmp.js';
import {
  fetchThrough,
  holdThrough,
  pageBytes,
  relayNodeFlags,
  startScanningProxy,
  startSite,
  startTunnelCli,
  type ScanningProxy,
  type TunnelCli,
} from '../helpers/tunnels.js';

/** Sent through the tunnel only: the proxy in front of the relay must never see it. */
const MARKER = 'PLAINTEXT-MARKER-7f3a9c1e5b2d4f60';

interface World {
  nodePort: number;
  nodeData: string;
  node: TunnelCli;
  proxy: ScanningProxy;
  a: Device;
  b: Device;
  stranger: Device;
  site: { port: number };
  expose: TunnelCli;
  connect: TunnelCli;
  localPort: number;
}
let world: World;

function flags(device: Device): string[] {
  return ['--gateway', device.url, '--data', device.dataDir];
}

/** The relay node, on a port it keeps across restarts; it lives until the file ends. */
function startRelayNode(port: number, dataDir: string): Promise<TunnelCli> {
  return startTunnelCli(
    ['node', '--port', String(port), '--data', dataDir, ...relayNodeFlags()],
    /listening on (http:\/\/[^\s]+)/,
    { untilFileEnds: true },
  );
}

async function expose(device: Device, args: readonly string[]): Promise<TunnelCli> {
  return startTunnelCli(
    ['tunnel', 'expose', ...args, ...flags(device)],
    /^exposing \S+ \(.*\) as tunnel ([0-9a-f]+) on /,
  );
}

async function connect(
  device: Device,
  name: string,
  args: readonly string[] = [],
): Promise<{ cli: TunnelCli; port: number }> {
  const cli = await startTunnelCli(
    ['tunnel', 'connect', name, '--port', '0', ...args, ...flags(device)],
    /^listening on 127\.0\.0\.1:(\d+) for /,
  );
  return { cli, port: Number(cli.ready[1]) };
}

async function tunnelsOf(device: Device): Promise<Record<string, unknown>[]> {
  return (await ok(device.url, 'GET', '/api/tunnels')).tunnels as Record<string, unknown>[];
}

async function setup(): Promise<void> {
  const nodePort = await freePort();
  const nodeData = tempDir();
  const node = await startRelayNode(nodePort, nodeData);
  const proxy = await startScanningProxy({ host: '127.0.0.1', port: nodePort }, [MARKER]);
  const [a, b, stranger] = await Promise.all([
    startDevice(proxy.url),
    startDevice(proxy.url),
    startDevice(proxy.url),
  ]);
  after(() => Promise.all([a!.stop(), b!.stop(), stranger!.stop()]));
  const code = await ok(a!.url, 'POST', '/api/devices/link', {}, 201);
  await ok(b!.url, 'POST', '/api/devices/accept', {
    code: code.code,
    name: 'laptop',
    wait_seconds: 30,
  });
  const site = await startSite();
  const exposed = await expose(a!, ['--name', 'web', '--port', String(site.port), '--no-direct']);
  await exposed.line(/ registered/);
  const connected = await connect(b!, 'web', ['--no-direct']);
  world = {
    nodePort,
    nodeData,
    node,
    proxy,
    a: a!,
    b: b!,
    stranger: stranger!,
    site,
    expose: exposed,
    connect: connected.cli,
    localPort: connected.port,
  };
}

await setup();

test('an HTTP server on device A answers device B through the relay, byte for byte', async () => {
  for (const n of [1, 2, 3, 200]) {
    const answer = await fetchThrough(world.localPort, `/page/${n}`);
    assert.equal(answer.status, 200);
    assert.ok(
      answer.body.equals(pageBytes(n)),
      `page ${n}: ${answer.body.length} bytes differ from ${pageBytes(n).length}`,
    );
  }
  const sent = Buffer.from(`${MARKER} posted through the tunnel ${MARKER}`);
  const echoed = await fetchThrough(world.localPort, '/echo', sent);
  assert.ok(echoed.body.equals(sent));
  const [b] = await tunnelsOf(world.b);
  assert.equal(b!.kind, 'connect');
  assert.ok((b!.connections_relayed as number) >= 5, JSON.stringify(b));
  assert.equal(b!.connections_direct, 0);
  assert.ok((b!.bytes_received as number) > pageBytes(200).length);
  await world.connect.line(/ open p2pid1\S+ \(relay\)/);
  await world.expose.line(/ close p2pid1\S+ \(relay\), \d+ bytes sent/);
});

test('the relay and anything between it and the devices see only ciphertext', async () => {
  const before = world.proxy.bytes();
  const body = Buffer.alloc(64 * 1024, `${MARKER}\n`);
  const echoed = await fetchThrough(world.localPort, '/echo', body);
  assert.ok(echoed.body.equals(body));
  // The proxy did carry the tunnel (at least the bytes both ways)...
  assert.ok(
    world.proxy.bytes() - before >= 2 * body.length,
    `${world.proxy.bytes() - before} bytes through the proxy`,
  );
  // ...and never saw the marker, which went through the tunnel thousands of times.
  assert.equal(world.proxy.seen(MARKER), 0);
});

test('many connections at once each get their own answer', async () => {
  const pages = Array.from({ length: 120 }, (_, i) => i + 10);
  const answers = await Promise.all(
    pages.map((n) => fetchThrough(world.localPort, `/page/${n}`, undefined, 120_000)),
  );
  answers.forEach((answer, i) => {
    assert.equal(answer.status, 200);
    assert.ok(answer.body.equals(pageBytes(pages[i]!)), `page ${pages[i]} differs`);
  });
  const [b] = await tunnelsOf(world.b);
  assert.equal(b!.failed, 0);
});

test('the direct path is used when the exposer is reachable, the relay when it is not', async () => {
  const direct = await exposeSite('near');
  const near = await connect(world.b, 'near');
  const before = world.proxy.bytes();
  const page = await fetchThrough(near.port, '/page/255');
  assert.ok(page.body.equals(pageBytes(255)));
  const listed = (await tunnelsOf(world.b)).find((t) => t.name === 'near')!;
  assert.equal(listed.connections_direct, 1, JSON.stringify(listed));
  assert.equal(listed.connections_relayed, 0);
  // The page did not cross the relay (only the lookup did).
  assert.ok(
    world.proxy.bytes() - before < pageBytes(255).length,
    `${world.proxy.bytes() - before} bytes through the relay`,
  );
  await near.cli.interrupt();
  await direct.interrupt();

  // An exposer that advertises an address nobody answers at: the connection goes through the relay.
  const dead = await freePort();
  const far = await exposeSite('far', ['--advertise', `127.0.0.1:${dead}`]);
  const farConnect = await connect(world.b, 'far');
  const again = await fetchThrough(farConnect.port, '/page/254');
  assert.ok(again.body.equals(pageBytes(254)));
  const farListed = (await tunnelsOf(world.b)).find((t) => t.name === 'far')!;
  assert.equal(farListed.connections_direct, 0, JSON.stringify(farListed));
  assert.equal(farListed.connections_relayed, 1);
  assert.equal(await farConnect.cli.interrupt(), 0);
  assert.equal(await far.interrupt(), 0);
  // Interrupted commands close their tunnels at the gateways.
  assert.deepEqual(
    (await tunnelsOf(world.a)).map((t) => t.name),
    ['web'],
  );
  assert.deepEqual(
    (await tunnelsOf(world.b)).map((t) => t.name),
    ['web'],
  );
});

/** A's web site exposed as tunnel `name` (with `flags`), once it is registered on the relay. */
async function exposeSite(name: string, flags: readonly string[] = []): Promise<TunnelCli> {
  const exposed = await expose(world.a, [
    '--name',
    name,
    '--port',
    String(world.site.port),
    ...flags,
  ]);
  await exposed.line(/ registered/);
  return exposed;
}

/**
 * Registers a key of nobody's on the relay for the service id of A's tunnel `name`, until
 * the file ends; each leg it is offered goes to `onLeg`.
 */
async function squat(name: string, onLeg: (leg: { destroy(): void }) => void): Promise<void> {
  const squatter = listenOnRelay({
    relay: world.proxy.url,
    self: generateIdentity(),
    service: serviceId(world.a.text, name),
  });
  after(() => squatter.close());
  await once(squatter, 'registered');
  squatter.on('leg', onLeg);
}

test("a stranger's device is refused; a squatter on the service id is never chosen", async () => {
  const strangerConnect = await connect(world.stranger, 'web', [
    '--of',
    world.a.text,
    '--no-direct',
  ]);
  await assert.rejects(fetchThrough(strangerConnect.port, '/page/1', undefined, 15_000));
  const refused = await strangerConnect.cli.line(/error: .*\(tunnel_forbidden\)$/);
  assert.match(refused, /not a certified, unrevoked device of a person allowed on tunnel "web"/);
  await world.expose.line(/ refused p2pid1\S+ \(relay\): .*\(tunnel_forbidden\)$/);
  await strangerConnect.cli.interrupt();

  // Someone else registers A's service id on the relay, with a key of their own.
  let legs = 0;
  const dropLeg = (leg: { destroy(): void }) => {
    legs += 1;
    leg.destroy();
  };
  await squat('web', dropLeg);
  for (let i = 0; i < 20; i++) {
    const page = await fetchThrough(world.localPort, `/page/${i}`);
    assert.ok(page.body.equals(pageBytes(i)));
  }
  assert.equal(legs, 0);
  // Where only a squatter is registered, B says so rather than dial it.
  await squat('lonely', dropLeg);
  const lonely = await connect(world.b, 'lonely', ['--no-direct']);
  await assert.rejects(fetchThrough(lonely.port, '/page/1', undefined, 15_000));
  await lonely.cli.line(
    /error: no certified, unrevoked device of p2pid1\S+ exposes "lonely" .*\(tunnel_no_device\)$/,
  );
  assert.equal(legs, 0);
  await lonely.cli.interrupt();
});

test('a person named with --allow gets in, on that tunnel only', async () => {
  const shared = await exposeSite('shared', ['--no-direct', '--allow', world.stranger.text]);
  const guest = await connect(world.stranger, 'shared', ['--of', world.a.text, '--no-direct']);
  const page = await fetchThrough(guest.port, '/page/9');
  assert.ok(page.body.equals(pageBytes(9)));
  await shared.line(new RegExp(` open ${world.stranger.text.slice(0, 16)}… \\(relay\\)`));
  assert.equal(await guest.cli.interrupt(), 0);
  assert.equal(await shared.interrupt(), 0);
});

test('a tunnel exposed with --pad takes padded connections only', async () => {
  const padded = await exposeSite('padded', ['--no-direct', '--pad']);
  const plain = await connect(world.b, 'padded', ['--no-direct']);
  await assert.rejects(fetchThrough(plain.port, '/page/3', undefined, 15_000));
  await plain.cli.line(/takes padded connections only: connect with --pad/);
  const pad = await connect(world.b, 'padded', ['--no-direct', '--pad']);
  const page = await fetchThrough(pad.port, '/page/3');
  assert.ok(page.body.equals(pageBytes(3)));
  await plain.cli.interrupt();
  await pad.cli.interrupt();
  await padded.interrupt();
});

test('one device opening more connections than the exposer takes from it is refused cleanly', async () => {
  const wanted = TUNNEL_LIMITS.perPeer + 20;
  const held = await Promise.allSettled(
    Array.from({ length: wanted }, () => holdThrough(world.localPort)),
  );
  const open = held.flatMap((h) => (h.status === 'fulfilled' ? [h.value] : []));
  assert.equal(
    open.length,
    TUNNEL_LIMITS.perPeer,
    `${world.connect.lines.slice(-12).join('\n')}\n${world.expose.lines.slice(-12).join('\n')}`,
  );
  await world.connect.line(/ error: .*connections open on tunnel "web" already \(tunnel_limit\)$/);
  const listed = (await tunnelsOf(world.a)).find((t) => t.name === 'web')!;
  assert.equal(listed.connections_open, TUNNEL_LIMITS.perPeer);
  for (const socket of open) socket.destroy();
  // The exposer and the tunnel carry on as before.
  await eventually('the held connections closed at the exposer', async () => {
    const now = (await tunnelsOf(world.a)).find((t) => t.name === 'web')!;
    return now.connections_open === 0;
  });
  const page = await fetchThrough(world.localPort, '/page/5');
  assert.ok(page.body.equals(pageBytes(5)));
});

test('after the relay node restarts, the exposer registers again and connections work again', async () => {
  await world.node.interrupt();
  await assert.rejects(fetchThrough(world.localPort, '/page/1', undefined, 15_000));
  await world.connect.line(/ error: no relay answered .*\(tunnel_unreachable\)$/);
  await world.expose.line(/ disconnected: /);
  const registered = world.expose.lines.filter((l) => / registered/.test(l)).length;
  world.node = await startRelayNode(world.nodePort, world.nodeData);
  await eventually(
    'A registered again',
    async () => world.expose.lines.filter((l) => / registered/.test(l)).length > registered,
    30_000,
  );
  const page = await fetchThrough(world.localPort, '/page/7');
  assert.ok(page.body.equals(pageBytes(7)));
});

test('a revoked device loses its open tunnel connection within a second, and is refused after', async () => {
  await eventually('A registered on the relay', async () => {
    const web = (await tunnelsOf(world.a)).find((t) => t.name === 'web');
    return web?.registered === true;
  }).catch((error: Error) => {
    throw new Error(`${error.message}\n${world.expose.lines.slice(-12).join('\n')}`);
  });
  const held = await holdThrough(world.localPort).catch((error: Error) => {
    throw new Error(
      `${error.message}\n${world.connect.lines.slice(-8).join('\n')}\n${world.expose.lines.slice(-8).join('\n')}`,
    );
  });
  const closed = new Promise<number>((resolve) => held.once('close', () => resolve(Date.now())));
  held.on('error', () => undefined);
  const revoked = await runCli(['device', 'revoke', 'laptop', ...flags(world.a)]);
  const answeredAt = Date.now();
  assert.equal(revoked.code, 0, revoked.stderr);
  assert.match(revoked.stdout, /^revoked p2pid1/);
  const cutAt = await Promise.race([
    closed,
    new Promise<number>((_, reject) =>
      setTimeout(() => reject(new Error('still open 5 s after the revocation')), 5_000),
    ),
  ]);
  process.stderr.write(
    `tunnel revocation: cut ${cutAt - answeredAt} ms after the revoke command answered\n`,
  );
  assert.ok(
    cutAt - answeredAt <= 1_000,
    `cut ${cutAt - answeredAt} ms after the revoke command answered`,
  );
  // Whichever side reads the revocation first cuts the connection, and says why.
  const cut = await Promise.any([
    world.expose.line(
      / cut p2pid1\S+ \(relay\): the device is revoked or no longer allowed \(tunnel_forbidden\)$/,
      5_000,
    ),
    world.connect.line(
      / cut p2pid1\S+ \(relay\): this device has been revoked \(tunnel_forbidden\)$/,
      5_000,
    ),
  ]);
  assert.ok(cut);

  await assert.rejects(fetchThrough(world.localPort, '/page/1', undefined, 15_000));
  await world.connect.line(
    / error: .*(revoked|not a certified, unrevoked device).*\(tunnel_forbidden\)$/,
  );
  // The exposer is still up for the devices that are not revoked.
  const listed = (await tunnelsOf(world.a)).find((t) => t.name === 'web')!;
  assert.equal(listed.connections_open, 0);
  assert.ok((listed.refused as number) >= 1);
});

test('tunnel list shows each tunnel with its counters', async () => {
  const listed = await runCli(['tunnel', 'list', ...flags(world.a)]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(
    listed.lines[0]!,
    /^ID +KIND +NAME +LOCAL +OPEN +TOTAL +DIRECT +RELAYED +SENT +RECEIVED$/,
  );
  const row = listed.lines.find((l) => / expose +web /.test(l));
  assert.ok(row, listed.stdout);
  const [, , , , , total, direct, relayed, sent] = row.split(/ +/);
  assert.ok(Number(total) > 100 && Number(total) === Number(direct) + Number(relayed), row);
  assert.ok(Number(sent) > pageBytes(200).length, row);
});

test('bad requests are refused with a code that names what was wrong', async () => {
  const cases: [string[], RegExp][] = [
    [
      ['tunnel', 'expose', '--name', 'bad name', '--port', '80'],
      /a tunnel name is 1 to 64 letters.*\(bad_tunnel\)/,
    ],
    [
      ['tunnel', 'expose', '--name', 'x', '--port', '70000'],
      /--port: expected an integer in 1\.\.65535/,
    ],
    [
      ['tunnel', 'expose', '--name', 'web', '--port', String(world.site.port)],
      /exposes a tunnel named "web" already \(tunnel_exists\)/,
    ],
    [
      ['tunnel', 'connect', 'web', '--port', '0', '--of', 'p2pid1nope'],
      /person: .* is not an identity text.*\(bad_tunnel\)/,
    ],
    [['tunnel', 'close', 'nothing'], /no tunnel "nothing"/],
  ];
  for (const [args, message] of cases) {
    const result = await runCli([...args, ...flags(world.a)]);
    assert.notEqual(result.code, 0, args.join(' '));
    const lines = result.stderr.trim().split('\n');
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^p2pcloud: /);
    assert.match(lines[0]!, message);
  }
});
