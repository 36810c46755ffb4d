/**
 * The tunnel relay with real node processes: pairing and raw piping, half-close, the limits
 * (legs per identity, bytes per second, a flood of unauthenticated legs), hostile legs
 * (garbage, forged and replayed answers, accepts of legs that do not wait, dials to nobody,
 * listeners that stop answering), and a listener that outlives a restart of its node.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { P2PError } from '../../src/errors.js';
import { createConnector } from '../../src/client/http.js';
import { randomBytes } from '../../src/crypto/random.js';
import { sha256 } from '../../src/crypto/sha256.js';
import { generateIdentity, identityText, type Identity } from '../../src/keys/keys.js';
import {
  dialOnRelay,
  findOnRelay,
  listenOnRelay,
  type RelayListener,
} from '../../src/client/relay/index.js';
import { encodeFrame, relayMessageSchema } from '../../src/relay/wire.js';
import { openBrowser, waitInPage } from '../helpers/browser.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { freePort } from '../helpers/http.js';
import {
  answer,
  rawLeg,
  rawListener,
  refusalCode,
  signChallenge,
  WEBSOCKET_UPGRADE,
  type RawLeg,
} from '../helpers/relay-raw.js';
import { tempDir } from '../helpers/tmp.js';
import { readAll, writeAll } from '../helpers/streams.js';
import { rejectsWith } from '../helpers/p2p-error.js';

async function relayNode(
  relay: Record<string, unknown> | null,
  extra: Record<string, unknown> = {},
  args: string[] = [],
  dataDir = tempDir(),
): Promise<NodeProcess> {
  const file = join(dataDir, 'config.json');
  writeFileSync(
    file,
    JSON.stringify({ ...(relay ? { relay: { enabled: true, ...relay } } : {}), ...extra }),
  );
  return spawnNode(['--config', file, '--log-level', 'warn', ...args], dataDir);
}

async function health(node: NodeProcess): Promise<Record<string, unknown>> {
  const response = await fetch(`${node.url}/health`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { relay: Record<string, unknown> }).relay;
}

function listen(relay: string, self: Identity, service: Uint8Array, direct: string[] = []) {
  const listener = listenOnRelay({
    relay,
    self,
    service,
    direct,
    minBackoffMs: 50,
    maxBackoffMs: 400,
  });
  return listener;
}

/** A dial and the listener's side of it, paired. */
async function tunnel(
  relay: string,
  listener: RelayListener,
  exposer: Identity,
  dialer: Identity,
  service: Uint8Array,
): Promise<{ near: Duplex; far: Duplex; from: string }> {
  const leg = once(listener, 'leg') as Promise<[Duplex, { from: string }]>;
  const near = await dialOnRelay({ relay, self: dialer, service, device: identityText(exposer) });
  const [far, info] = await leg;
  return { near, far, from: info.from };
}

interface Registered {
  readonly service: Buffer;
  readonly exposer: Identity;
  readonly dialer: Identity;
  readonly listener: RelayListener;
  /** A tunnel from `dialer` (or `from`) to the exposer through `node`. */
  tunnel(from?: Identity): Promise<{ near: Duplex; far: Duplex; from: string }>;
}

/**
 * An exposer registered on `node` for a fresh service (offering `direct`), and a dialer; the
 * listener is closed when `run` is done, whatever happens.
 */
async function withListener(
  node: NodeProcess,
  run: (registered: Registered) => Promise<void>,
  direct: string[] = [],
): Promise<void> {
  const service = randomBytes(32);
  const exposer = generateIdentity();
  const dialer = generateIdentity();
  const listener = listen(node.url, exposer, service, direct);
  try {
    await once(listener, 'registered');
    await run({
      service,
      exposer,
      dialer,
      listener,
      tunnel: (from = dialer) => tunnel(node.url, listener, exposer, from, service),
    });
  } finally {
    listener.close();
  }
}

/** Ends `from` with `text` and asserts that `to` reads exactly that to its end. */
async function carries(from: Duplex, to: Duplex, text: string): Promise<void> {
  const got = readAll(to);
  from.end(text);
  assert.equal((await got).toString(), text);
}

/**
 * Sends 1.5 MiB over each of two tunnels at once, on a relay that holds them together to
 * 1 MiB/s: the first second's burst (1 MiB) passes at once, the other 2 MiB take about 2 s
 * whatever the machine. Both arrive whole.
 */
async function sendHeldToOneMiBPerSecond(
  a: { near: Duplex; far: Duplex },
  b: { near: Duplex; far: Duplex },
): Promise<void> {
  const data = randomBytes(3 * 512 * 1024);
  const started = performance.now();
  const [gotA, gotB] = await Promise.all([
    readAll(a.far),
    readAll(b.far),
    writeAll(a.near, data),
    writeAll(b.near, data),
  ]);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(gotA.equals(data) && gotB.equals(data));
  assert.ok(seconds >= 1.7, `3 MiB at 1 MiB/s took only ${seconds.toFixed(2)} s`);
  assert.ok(seconds < 15, `3 MiB at 1 MiB/s took ${seconds.toFixed(2)} s`);
}

test(
  'a dial is paired with the listener and 16 MiB cross each way byte for byte',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({});
    await withListener(
      node,
      async ({ service, exposer, dialer, tunnel }) => {
        const found = await findOnRelay({ relay: node.url, self: dialer, service });
        assert.deepEqual(found, [{ device: identityText(exposer), direct: ['192.168.1.5:7000'] }]);
        assert.deepEqual(
          await findOnRelay({ relay: node.url, self: dialer, service: randomBytes(32) }),
          [],
        );

        const { near, far, from } = await tunnel();
        assert.equal(from, identityText(dialer));
        const up = randomBytes(16 * 1024 * 1024);
        const down = randomBytes(16 * 1024 * 1024);
        const [atExposer, atDialer] = await Promise.all([
          readAll(far),
          readAll(near),
          writeAll(near, up),
          writeAll(far, down),
        ]);
        assert.equal(atExposer.length, up.length);
        assert.ok(sha256(atExposer).equals(sha256(up)), 'the exposer got other bytes');
        assert.equal(atDialer.length, down.length);
        assert.ok(sha256(atDialer).equals(sha256(down)), 'the dialer got other bytes');

        const counters = await health(node);
        assert.equal(counters.enabled, true);
        assert.equal(counters.paired_total, 1);
        assert.ok(Number(counters.bytes) >= 32 * 1024 * 1024, `bytes: ${String(counters.bytes)}`);
        assert.equal(counters.registrations, 1);
      },
      ['192.168.1.5:7000'],
    );
  },
);

test(
  'a half-close crosses the relay: the other side still sends after reading the end',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({});
    await withListener(node, async ({ tunnel }) => {
      const { near, far } = await tunnel();
      const nearGot = readAll(near);
      near.end('question');
      assert.equal((await readAll(far)).toString(), 'question');
      // The dialer has ended its output; the answer still reaches it.
      await new Promise((resolve) => setTimeout(resolve, 100));
      far.end('answer after your end');
      assert.equal((await nearGot).toString(), 'answer after your end');
    });
  },
);

test(
  "a tunnel outlives its listener's control leg: nothing is injected into it, nothing is cut",
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({});
    try {
      await withListener(node, async ({ listener, tunnel }) => {
        const { near, far } = await tunnel();
        const nearGot = readAll(near);
        const farGot = readAll(far);
        // The device stops listening (or its control leg is lost, or replaced): the tunnels it
        // accepted are its own legs and go on.
        listener.close();
        for (let i = 0; i < 50 && Number((await health(node)).registrations) !== 0; i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        assert.equal((await health(node)).registrations, 0);
        // Past the relay's 2 s linger of a refused leg.
        await new Promise((resolve) => setTimeout(resolve, 2500));
        near.end('still here');
        far.end('so am I');
        assert.equal((await farGot).toString(), 'still here');
        assert.equal((await nearGot).toString(), 'so am I');
        const refused = (await health(node)).refused as Record<string, number>;
        assert.equal(refused.relay_no_listener ?? 0, 0, JSON.stringify(refused));
      });
    } finally {
      await node.stop();
    }
  },
);

test(
  'a relaying node stops promptly with legs open in every phase',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({});
    await withListener(node, async ({ service, dialer, tunnel }) => {
      const { near, far } = await tunnel();
      near.on('error', () => undefined);
      far.on('error', () => undefined);
      near.write('x');
      const handshaking = await rawLeg(node.url);
      await handshaking.next();
      // A listener that never accepts, and a dial waiting for it.
      const silent = generateIdentity();
      const silentListener = await rawListener(node.url, silent, service);
      const waiting = await rawLeg(node.url);
      await answer(waiting, dialer, 'dial', {
        service: Buffer.from(service).toString('hex'),
        device: identityText(silent),
      });
      assert.equal((await silentListener.next()).type, 'incoming');
      const refused = await rawLeg(node.url);
      await refused.next();
      refused.write(Buffer.from([0, 1, 0x7b]));
      assert.equal((await refused.next()).code, 'bad_relay_request');
      const counters = await health(node);
      assert.equal(counters.paired, 1);
      assert.equal(counters.waiting_dials, 1);

      const started = Date.now();
      assert.equal(await node.stop(), 0);
      const took = Date.now() - started;
      assert.ok(took < 5000, `stopping took ${took} ms`);
      await Promise.all([
        handshaking.closed,
        silentListener.closed,
        waiting.closed,
        refused.closed,
      ]);
    });
  },
);

test(
  'a dialer that never reads: the writer is held back, the relay does not buffer for it',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ bytes_per_second_per_identity: 100 * 1024 * 1024 * 1024 });
    const rss = () =>
      Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${node.child.pid}/status`, 'utf8'))![1]) *
      1024;
    await withListener(node, async ({ tunnel }) => {
      const { near, far } = await tunnel();
      near.pause();
      const before = rss();
      // The far side writes as fast as it is let for two seconds, waiting whenever told to.
      const chunk = Buffer.alloc(256 * 1024, 7);
      let written = 0;
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        written += chunk.length;
        if (!far.write(chunk)) {
          const drained = once(far, 'drain').then(() => true);
          const late = new Promise((resolve) => setTimeout(resolve, until - Date.now(), false));
          if (!(await Promise.race([drained, late]))) break;
        }
      }
      const grown = rss() - before;
      // Loopback socket buffers on both sides of the relay take a few MiB; the relay keeps a
      // socket's high-water mark and one read. A relay that buffered would take it all: GBs.
      assert.ok(written < 64 * 1024 * 1024, `the writer got ${written} bytes out`);
      assert.ok(grown < 48 * 1024 * 1024, `the relay grew by ${grown} bytes`);
      near.resume();
      near.destroy();
      far.destroy();
    });
  },
);

test(
  'a node without relaying refuses legs with relay_disabled, in HTTP',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode(null);
    const self = generateIdentity();
    await rejectsWith(
      findOnRelay({ relay: node.url, self, service: randomBytes(32) }),
      'relay_disabled',
      /does not relay/,
    );
    const leg = await rawLeg(node.url);
    assert.equal(leg.status, 403);
    assert.equal(refusalCode(leg), 'relay_disabled');
    const bad = await rawLeg(node.url, WEBSOCKET_UPGRADE);
    assert.equal(bad.status, 403, 'disabled is said before anything else is checked');
    assert.deepEqual((await health(node)).refused, { relay_disabled: 3 });
  },
);

test(
  'slow and long openings: byte by byte is read, a length without its body times out, a refusal stays in bounds',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ handshake_seconds: 2 });
    const self = generateIdentity();
    const service = randomBytes(32).toString('hex');

    // An opening that arrives one byte at a time is still one opening.
    const slow = await rawLeg(node.url);
    const challenge = await slow.next();
    const frame = encodeFrame({
      type: 'find',
      identity: identityText(self),
      signature: signChallenge(challenge, 'find', self.signing),
      service,
    });
    for (const byte of frame) {
      slow.socket.write(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.deepEqual(await slow.next(), { type: 'found', devices: [] });

    // A length whose body never comes: the handshake deadline, not a wait forever.
    const stalled = await rawLeg(node.url);
    await stalled.next();
    stalled.write(Buffer.from([0x01, 0x00, 0x7b]));
    const started = Date.now();
    assert.equal((await stalled.next(10_000)).code, 'relay_timeout');
    assert.ok(Date.now() - started < 8000, `${Date.now() - started} ms`);
    await stalled.closed;

    // A refusal naming every fault of a 4 KiB opening is still a message the wire allows:
    // a device reads the relay's code, not a broken relay.
    const keys = Object.fromEntries(Array.from({ length: 400 }, (_, i) => [`k${i}`, 0]));
    const noisy = await rawLeg(node.url);
    await noisy.next();
    noisy.write(
      encodeFrame({ type: 'find', identity: 'x', signature: 'y', service, ...keys } as never),
    );
    const refusal = await noisy.next();
    assert.equal(refusal.code, 'bad_relay_request');
    assert.ok(relayMessageSchema.safeParse(refusal).success, String(refusal.message).length + '');
    await noisy.closed;
    assert.equal((await health(node)).handshakes, 0);
  },
);

test(
  'hostile legs: a wrong upgrade, garbage, forged and replayed answers are refused with their codes',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ handshake_seconds: 2 });
    const self = generateIdentity();
    const service = randomBytes(32).toString('hex');

    const wrongProtocol = await rawLeg(node.url, WEBSOCKET_UPGRADE);
    assert.equal(wrongProtocol.status, 400);
    assert.match(wrongProtocol.body, /bad_relay_request/);
    const wrongPath = await rawLeg(
      node.url,
      'GET /elsewhere HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: p2pcloud-relay/1\r\n\r\n',
    );
    assert.equal(wrongPath.status, 404);

    // A frame that announces more than 4 KiB is refused before its body is awaited.
    const huge = await rawLeg(node.url);
    await huge.next();
    huge.write(Buffer.from([0xff, 0xff, 1, 2, 3]));
    const hugeAnswer = await huge.next();
    assert.equal(hugeAnswer.code, 'bad_relay_request');
    assert.match(String(hugeAnswer.message), /65535 bytes/);
    await huge.closed;

    const garbage = await rawLeg(node.url);
    await garbage.next();
    garbage.write(Buffer.concat([Buffer.from([0, 5]), Buffer.from('\x00\x01{[x')]));
    assert.equal((await garbage.next()).code, 'bad_relay_request');
    await garbage.closed;

    const unknownRole = await rawLeg(node.url);
    await unknownRole.next();
    unknownRole.write(encodeFrame({ type: 'shout', identity: 'x' } as never));
    assert.equal((await unknownRole.next()).code, 'bad_relay_request');

    // Signed by another key than the identity's.
    const forged = await rawLeg(node.url);
    const challenge = await forged.next();
    const other = generateIdentity();
    forged.write(
      encodeFrame({
        type: 'find',
        identity: identityText(self),
        signature: signChallenge(challenge, 'find', other.signing),
        service,
      }),
    );
    const forgedAnswer = await forged.next();
    assert.equal(forgedAnswer.code, 'relay_auth_failed');
    assert.match(String(forgedAnswer.message), /does not verify/);

    // A valid answer, captured and sent again on a new connection, does not verify there.
    const first = await rawLeg(node.url);
    const { signature } = await answer(first, self, 'find', { service });
    assert.equal((await first.next()).type, 'found');
    const replay = await rawLeg(node.url);
    await replay.next();
    replay.write(encodeFrame({ type: 'find', identity: identityText(self), signature, service }));
    assert.equal((await replay.next()).code, 'relay_auth_failed');

    // An answer for one role does not open another.
    const switched = await rawLeg(node.url);
    const c2 = await switched.next();
    switched.write(
      encodeFrame({
        type: 'listen',
        identity: identityText(self),
        signature: signChallenge(c2, 'find', self.signing),
        service,
        direct: [],
      }),
    );
    assert.equal((await switched.next()).code, 'relay_auth_failed');

    // Nothing sent after the upgrade: refused when the handshake deadline passes.
    const silent = await rawLeg(node.url);
    await silent.next();
    const late = await silent.next(5000);
    assert.equal(late.code, 'relay_timeout');

    const refused = (await health(node)).refused as Record<string, number>;
    assert.equal(refused.relay_auth_failed, 3);
    assert.equal(refused.bad_relay_request, 4);
    assert.equal(refused.relay_timeout, 1);
    // The relay still serves.
    assert.deepEqual(await findOnRelay({ relay: node.url, self, service: randomBytes(32) }), []);
  },
);

test(
  'a dial to nobody, an accept of a leg that does not wait, and a listener that never accepts',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ pair_seconds: 1 });
    const service = randomBytes(32);
    const exposer = generateIdentity();
    const dialer = generateIdentity();
    await rejectsWith(
      dialOnRelay({ relay: node.url, self: dialer, service, device: identityText(exposer) }),
      'relay_no_listener',
      /is not registered on this relay/,
    );

    const stranger = await rawLeg(node.url);
    await answer(stranger, dialer, 'accept', { leg: randomBytes(16).toString('hex') });
    const strangerAnswer = await stranger.next();
    assert.equal(strangerAnswer.code, 'relay_no_such_leg');

    // A raw listener: it sees the incoming dial but does not accept it.
    const lazy = await rawListener(node.url, exposer, service);
    const started = Date.now();
    const dial = dialOnRelay({
      relay: node.url,
      self: dialer,
      service,
      device: identityText(exposer),
    });
    const incoming = await lazy.next();
    assert.equal(incoming.type, 'incoming');
    assert.equal(incoming.from, identityText(dialer));

    // Someone else than the device it was offered to cannot take that leg.
    const thief = await rawLeg(node.url);
    await answer(thief, dialer, 'accept', { leg: incoming.leg });
    assert.equal((await thief.next()).code, 'relay_no_such_leg');

    await rejectsWith(dial, 'relay_timeout', /did not accept the dial within 1 s/);
    assert.ok(Date.now() - started >= 900, 'the pairing deadline was not waited out');
    // Once given up, the offered leg cannot be accepted any more.
    const tooLate = await rawLeg(node.url);
    await answer(tooLate, exposer, 'accept', { leg: incoming.leg });
    assert.equal((await tooLate.next()).code, 'relay_no_such_leg');
    lazy.socket.destroy();
  },
);

test(
  'a listener that stops answering pings is dropped and its registration goes',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ ping_seconds: 0.3 });
    const service = randomBytes(32);
    const exposer = generateIdentity();
    // A pong that answers no ping is refused: pongs cannot be sent at will.
    const eager = await rawListener(node.url, exposer, service);
    eager.write(encodeFrame({ type: 'pong' }));
    const eagerAnswer = await eager.next();
    assert.equal(eagerAnswer.code, 'bad_relay_request');
    assert.match(String(eagerAnswer.message), /answers no ping/);
    await eager.closed;

    const mute = await rawListener(node.url, exposer, service);
    assert.equal((await mute.next()).type, 'ping');
    let last: Record<string, unknown>;
    do last = await mute.next(3000);
    while (last.type === 'ping');
    assert.equal(last.code, 'relay_timeout');
    assert.match(String(last.message), /did not answer two pings/);
    await mute.closed;
    assert.deepEqual(await findOnRelay({ relay: node.url, self: exposer, service }), []);

    // The relay client answers its pings and stays registered across several of them.
    const listener = listen(node.url, exposer, service);
    try {
      await once(listener, 'registered');
      let dropped = false;
      listener.on('disconnected', () => (dropped = true));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal(dropped, false);
      assert.equal((await findOnRelay({ relay: node.url, self: exposer, service })).length, 1);
    } finally {
      listener.close();
    }
  },
);

test(
  'the (N+1)th leg of an identity is refused while its first N keep carrying bytes',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ max_legs_per_identity: 3 });
    const service = randomBytes(32);
    const dialer = generateIdentity();
    const exposers = [generateIdentity(), generateIdentity(), generateIdentity()];
    const listeners = exposers.map((e) => listen(node.url, e, service));
    try {
      await Promise.all(listeners.map((l) => once(l, 'registered')));
      const tunnels = [];
      for (const [i, exposer] of exposers.entries()) {
        tunnels.push(await tunnel(node.url, listeners[i]!, exposer, dialer, service));
      }
      await rejectsWith(
        dialOnRelay({ relay: node.url, self: dialer, service, device: identityText(exposers[0]!) }),
        'relay_busy',
        /holds 3 relay connections already/,
      );
      for (const [i, { near, far }] of tunnels.entries()) {
        await carries(near, far, `still working ${i}`);
      }
      for (const { far } of tunnels) far.end();
      // Once a leg closes, the identity may open another.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = await tunnel(node.url, listeners[1]!, exposers[1]!, dialer, service);
      again.near.destroy();
    } finally {
      for (const l of listeners) l.close();
    }
  },
);

test(
  'an identity is held to its bytes per second, all its legs together',
  { timeout: 60_000 },
  async () => {
    const rate = 1024 * 1024;
    const node = await relayNode({ bytes_per_second_per_identity: rate });
    await withListener(node, async ({ tunnel }) => {
      // Two legs of the same dialer share its budget.
      const a = await tunnel();
      const b = await tunnel();
      await sendHeldToOneMiBPerSecond(a, b);
      // The other direction is the exposer's own budget: a small answer is not held up.
      const back = Date.now();
      await carries(a.far, a.near, 'small answer');
      assert.ok(Date.now() - back < 1500);
      b.far.end();
    });
  },
);

test(
  'a client opening a thousand legs is refused past the caps; the relay and a tunnel stay up',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ max_handshakes_per_address: 60, max_legs: 100 });
    const held: RawLeg[] = [];
    try {
      await withListener(node, async ({ tunnel }) => {
        const { near, far } = await tunnel();
        const codes = new Map<string, number>();
        const started = Date.now();
        for (let batch = 0; batch < 20; batch++) {
          const legs = await Promise.all(Array.from({ length: 50 }, () => rawLeg(node.url)));
          for (const leg of legs) {
            if (leg.status === 101) {
              held.push(leg);
              continue;
            }
            const code = refusalCode(leg);
            codes.set(code, (codes.get(code) ?? 0) + 1);
          }
        }
        assert.ok(Date.now() - started < 60_000);
        // 60 unauthenticated legs are held at once; everything past them was refused.
        assert.equal(held.length, 60);
        assert.equal(codes.get('relay_busy'), 940);
        const counters = await health(node);
        assert.equal(counters.handshakes, 60);
        // The tunnel set up before the flood still carries bytes both ways.
        await carries(near, far, 'through the flood');
        await carries(far, near, 'and back');
      });
    } finally {
      for (const leg of held) leg.socket.destroy();
    }
  },
);

test(
  'a listener registers again by itself after its relay node restarts',
  { timeout: 60_000 },
  async () => {
    const port = await freePort();
    const dataDir = tempDir();
    // Turned on by the flag rather than the config file, which holds nothing here.
    const first = await relayNode(null, {}, ['--relay', '--port', String(port)], dataDir);
    await withListener(first, async ({ service, exposer, dialer, listener }) => {
      const lost = once(listener, 'disconnected');
      await first.stop();
      const [error] = (await lost) as [P2PError];
      assert.ok(error instanceof P2PError);
      const back = once(listener, 'registered');
      const node = await relayNode(null, {}, ['--relay', '--port', String(port)], dataDir);
      await back;
      const { near, far } = await tunnel(node.url, listener, exposer, dialer, service);
      await carries(near, far, 'after the restart');
      far.end();
    });
  },
);

test(
  'bytes sent right behind an opening reach the other device after paired, not as frames',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({});
    const service = randomBytes(32);
    const exposer = generateIdentity();
    const dialer = generateIdentity();
    const control = await rawListener(node.url, exposer, service);
    const dial = dialOnRelay({
      relay: node.url,
      self: dialer,
      service,
      device: identityText(exposer),
    });
    const incoming = await control.next();
    // The accepting leg sends its opening and its first tunnel bytes in one write, and they
    // look like a frame header: the relay must pass them on raw, after paired.
    const accept = await rawLeg(node.url);
    const signature = signChallenge(await accept.next(), 'accept', exposer.signing);
    const early = Buffer.from([0, 4, 0x7b, 0x7d, 0x20, 0x20, 1, 2, 3]);
    accept.write(
      Buffer.concat([
        encodeFrame({
          type: 'accept',
          identity: identityText(exposer),
          signature,
          leg: String(incoming.leg),
        }),
        early,
      ]),
    );
    const near = await dial;
    const got = readAll(near);
    assert.equal((await accept.next()).type, 'paired');
    accept.socket.end();
    assert.deepEqual(await got, early);
    control.socket.destroy();
  },
);

test(
  'registrations are capped per service and per identity; find lists every device registered',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({
      max_registrations_per_service: 20,
      max_registrations_per_identity: 2,
    });
    const service = randomBytes(32);
    const finder = generateIdentity();
    const long = (i: number) =>
      Array.from({ length: 4 }, (_, j) => `${'h'.repeat(60)}-${i}-${j}.example:${1000 + j}`);
    const devices = Array.from({ length: 21 }, () => generateIdentity());
    const controls: RawLeg[] = [];
    try {
      for (const [i, device] of devices.entries()) {
        const leg = await rawLeg(node.url);
        controls.push(leg);
        await answer(leg, device, 'listen', { service: service.toString('hex'), direct: long(i) });
        const reply = await leg.next();
        if (i < 20) assert.equal(reply.type, 'registered');
        else {
          assert.equal(reply.code, 'relay_busy');
          assert.match(String(reply.message), /20 devices are registered for this service/);
        }
      }
      // The largest answer (20 devices, 4 long addresses each) still fits one frame.
      const found = await findOnRelay({ relay: node.url, self: finder, service });
      assert.equal(found.length, 20);
      assert.deepEqual(
        new Set(found.map((f) => f.device)),
        new Set(devices.slice(0, 20).map((d) => identityText(d))),
      );
      assert.deepEqual(found.find((f) => f.device === identityText(devices[3]!))!.direct, long(3));

      // devices[0] is registered for one service: a second is allowed, not a third.
      for (const expected of ['registered', 'error']) {
        const leg = await rawLeg(node.url);
        controls.push(leg);
        await answer(leg, devices[0]!, 'listen', {
          service: randomBytes(32).toString('hex'),
          direct: [],
        });
        const reply = await leg.next();
        assert.equal(reply.type, expected);
        if (expected === 'error') {
          assert.equal(reply.code, 'relay_busy');
          assert.match(String(reply.message), /registered for 2 services already/);
        }
      }
    } finally {
      for (const leg of controls) leg.socket.destroy();
    }
  },
);

test(
  'the relay as a whole is held to its own bytes per second, across identities',
  { timeout: 60_000 },
  async () => {
    const rate = 1024 * 1024;
    const node = await relayNode({
      bytes_per_second: rate,
      bytes_per_second_per_identity: 64 * rate,
    });
    await withListener(node, async ({ tunnel }) => {
      // Two dialers, each far below its own cap, share the relay's 1 MiB/s.
      const a = await tunnel(generateIdentity());
      const b = await tunnel(generateIdentity());
      await sendHeldToOneMiBPerSecond(a, b);
      a.far.end();
      b.far.end();
    });
  },
);

test(
  'the dashboard of a relaying node shows its tunnels, at desktop and phone widths',
  { timeout: 90_000 },
  async () => {
    const node = await relayNode({});
    await withListener(node, async ({ tunnel }) => {
      const { near, far } = await tunnel(generateIdentity());
      const got = readAll(far);
      near.end(Buffer.alloc(5000, 1));
      assert.equal((await got).length, 5000);
      const stats = (await (await fetch(`${node.url}/stats`)).json()) as {
        relay: { paired: number; paired_total: number; bytes: number };
      };
      assert.deepEqual([stats.relay.paired, stats.relay.paired_total], [1, 1]);
      assert.equal(stats.relay.bytes, 5000);

      const user = await openBrowser('relay-dashboard');
      for (const width of [1280, 420]) {
        await user.page.setViewportSize({ width, height: 900 });
        await user.page.goto(`${node.url}/ui`);
        await waitInPage(
          user.page,
          `document.querySelector('[data-test="traffic"]').innerText.includes('Relay tunnels')`,
        );
        const traffic = await user.page.locator('[data-test="traffic"]').innerText();
        assert.match(traffic, /Relay tunnels \(open\)\s+1\b/);
        assert.match(traffic, /Relay tunnels \(all\)\s+1\b/);
        assert.match(traffic, /Relay bytes\s+5[,.\s]?000\b/);
      }
      assert.deepEqual(user.errors, []);
      far.end();
    });
  },
);

test(
  'the client keeps to its connector and its signal: a refused address, an aborted dial',
  { timeout: 60_000 },
  async () => {
    const node = await relayNode({ pair_seconds: 30 });
    const service = randomBytes(32);
    const exposer = generateIdentity();
    const dialer = generateIdentity();
    await rejectsWith(
      findOnRelay({
        relay: node.url,
        self: dialer,
        service,
        connector: createConnector((address) => address !== '127.0.0.1'),
      }),
      'node_unreachable',
      /127\.0\.0\.1 is not dialled/,
    );
    await rejectsWith(
      findOnRelay({ relay: 'ftp://127.0.0.1/', self: dialer, service }),
      'bad_argument',
      /only http and https/,
    );
    assert.throws(
      () => listenOnRelay({ relay: node.url, self: exposer, service: randomBytes(31) }),
      (e: unknown) => e instanceof P2PError && e.code === 'bad_argument',
    );

    // A listener that never accepts, and a dial its caller gives up on.
    const lazy = await rawListener(node.url, exposer, service);
    const controller = new AbortController();
    const dial = dialOnRelay({
      relay: node.url,
      self: dialer,
      service,
      device: identityText(exposer),
      signal: controller.signal,
    });
    assert.equal((await lazy.next()).type, 'incoming');
    const started = Date.now();
    controller.abort();
    await rejectsWith(dial, 'aborted');
    assert.ok(Date.now() - started < 2000);
    // The relay noticed the dialer leave: the leg is no longer waiting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal((await health(node)).waiting_dials, 0);
    lazy.socket.destroy();
  },
);

test(
  'clients that reset upgrade requests, refused or not, leave the node running',
  { timeout: 60_000 },
  async () => {
    for (const relay of [null, {}]) {
      const node = await relayNode(relay);
      const { port } = new URL(node.url);
      for (const path of ['/x', '/relay/v1']) {
        for (let i = 0; i < 5; i++) {
          const socket = connect({ port: Number(port), host: '127.0.0.1' });
          await once(socket, 'connect');
          socket.write(
            `GET ${path} HTTP/1.1\r\nHost: node\r\nConnection: Upgrade\r\nUpgrade: foo\r\n\r\n`,
          );
          await once(socket, 'data');
          // A TCP reset while the node still holds the socket for its answer to be read.
          socket.resetAndDestroy();
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(node.child.exitCode, null, 'the node is still running');
      await health(node);
    }
  },
);
