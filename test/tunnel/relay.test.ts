/**
 * The secure channel over real relay legs: a `p2pcloud node --relay` process pairs a listening
 * device and a dialing one, and the channel runs over the two raw legs it returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { dialOnRelay, listenOnRelay, type RelayListener } from '../../src/client/relay/index.js';
import { P2PError } from '../../src/errors.js';
import { openInitiator, openResponder, type SecureStream } from '../../src/tunnel/index.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { closed, device, errorOf, within, type Device } from './transports.js';
import { exchangeRandom } from '../helpers/streams.js';

interface Relayed {
  readonly node: NodeProcess;
  readonly nas: Device;
  readonly phone: Device;
  readonly service: Buffer;
  readonly listener: RelayListener;
}

/** A relay node, a NAS registered on it for a service, and a phone; all closed after `run`. */
async function onRelay(run: (relayed: Relayed) => Promise<void>): Promise<void> {
  const node = await spawnNode(['--relay', '--log-level', 'warn']);
  const nas = device();
  const phone = device();
  const service = randomBytes(32);
  const listener = listenOnRelay({ relay: node.url, self: nas.identity, service });
  try {
    await within(10_000, 'the registration', once(listener, 'registered'));
    await run({ node, nas, phone, service, listener });
  } finally {
    listener.close();
    await node.stop();
  }
}

/**
 * The phone dials the NAS through the relay and opens the channel over its leg; `respond`
 * answers on the NAS's leg. Resolves with the initiator's and the responder's streams.
 */
async function openChannel(
  { node, nas, phone, service, listener }: Relayed,
  respond: (leg: Duplex, from: string) => Promise<SecureStream>,
  pad?: boolean,
): Promise<[SecureStream, SecureStream]> {
  const answered = new Promise<SecureStream>((resolve, reject) => {
    listener.once('leg', (leg: Duplex, info: { from: string }) =>
      respond(leg, info.from).then(resolve, reject),
    );
  });
  const leg = await dialOnRelay({
    relay: node.url,
    self: phone.identity,
    service,
    device: nas.text,
  });
  return Promise.all([
    openInitiator(leg, { self: phone.identity, responder: nas.text, service: 'nas', pad }),
    answered,
  ]);
}

test('the channel over legs paired by a relay node: both ways byte for byte, each side ending on its own', () =>
  onRelay(async (relayed) => {
    const { nas, phone } = relayed;
    const [initiator, responder] = await openChannel(
      relayed,
      (leg, from) => {
        assert.equal(from, phone.text);
        return openResponder(leg, {
          self: nas.identity,
          authorize: (who, name) => {
            if (who !== from) throw new P2PError('tunnel_refused', 'not the leg that dialed');
            assert.equal(name, 'nas');
          },
        });
      },
      true,
    );
    assert.equal(responder.peer, phone.text);
    assert.equal(responder.padded, true);
    const total = 8 * 1024 * 1024;
    await within(
      60_000,
      'two 8 MiB streams through the relay',
      exchangeRandom(initiator, responder, total),
    );
    await within(5000, 'both ends to close', Promise.all([closed(initiator), closed(responder)]));
    assert.equal(initiator.errored, null);
    assert.equal(responder.errored, null);
  }));

test('a relay that goes away under a tunnel is a loss, not an end', () =>
  onRelay(async (relayed) => {
    const [initiator, responder] = await openChannel(relayed, (leg) =>
      openResponder(leg, { self: relayed.nas.identity, authorize: () => {} }),
    );
    initiator.write('hello');
    await once(responder, 'data');
    const failures = [errorOf(initiator), errorOf(responder)];
    await relayed.node.kill9();
    for (const error of await within(5000, 'both ends to fail', Promise.all(failures))) {
      assert.ok(error instanceof P2PError);
      assert.equal(error.code, 'tunnel_lost', error.message);
    }
  }));
