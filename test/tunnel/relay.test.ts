/**
 * The secure channel over real relay legs: a `p2pcloud node --relay` process pairs a listening
 * device and a dialing one, and the channel runs over the two raw legs it returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { dialOnRelay, listenOnRelay } from '../../src/client/relay/index.js';
import { P2PError } from '../../src/errors.js';
import { openInitiator, openResponder, type SecureStream } from '../../src/tunnel/index.js';
import { spawnNode } from '../helpers/nodes.js';
import { closed, device, errorOf, within } from './transports.js';

async function sendRandom(stream: Duplex, total: number): Promise<string> {
  const hash = createHash('sha256');
  for (let sent = 0; sent < total; sent += 1 << 20) {
    const bytes = randomBytes(Math.min(1 << 20, total - sent));
    hash.update(bytes);
    if (!stream.write(bytes)) await once(stream, 'drain');
  }
  stream.end();
  return hash.digest('hex');
}

function receiveAll(stream: Duplex): Promise<{ bytes: number; hash: string }> {
  const hash = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      bytes += chunk.length;
    });
    stream.once('end', () => resolve({ bytes, hash: hash.digest('hex') }));
    stream.once('error', reject);
  });
}

test('the channel over legs paired by a relay node: both ways byte for byte, each side ending on its own', async () => {
  const node = await spawnNode(['--relay', '--log-level', 'warn']);
  const nas = device();
  const phone = device();
  const service = randomBytes(32);
  const listener = listenOnRelay({ relay: node.url, self: nas.identity, service });
  try {
    await within(10_000, 'the registration', once(listener, 'registered'));
    const answered = new Promise<SecureStream>((resolve, reject) => {
      listener.once('leg', (leg: Duplex, info: { from: string }) => {
        assert.equal(info.from, phone.text);
        openResponder(leg, {
          self: nas.identity,
          authorize: (who, name) => {
            if (who !== info.from) throw new P2PError('tunnel_refused', 'not the leg that dialed');
            assert.equal(name, 'nas');
          },
        }).then(resolve, reject);
      });
    });
    const leg = await dialOnRelay({
      relay: node.url,
      self: phone.identity,
      service,
      device: nas.text,
    });
    const [initiator, responder] = await Promise.all([
      openInitiator(leg, { self: phone.identity, responder: nas.text, service: 'nas', pad: true }),
      answered,
    ]);
    assert.equal(responder.peer, phone.text);
    assert.equal(responder.padded, true);
    const total = 8 * 1024 * 1024;
    const [up, down, gotUp, gotDown] = await within(
      60_000,
      'two 8 MiB streams through the relay',
      Promise.all([
        sendRandom(initiator, total),
        sendRandom(responder, total),
        receiveAll(responder),
        receiveAll(initiator),
      ]),
    );
    assert.deepEqual(gotUp, { bytes: total, hash: up });
    assert.deepEqual(gotDown, { bytes: total, hash: down });
    await within(5000, 'both ends to close', Promise.all([closed(initiator), closed(responder)]));
    assert.equal(initiator.errored, null);
    assert.equal(responder.errored, null);
  } finally {
    listener.close();
    await node.stop();
  }
});

test('a relay that goes away under a tunnel is a loss, not an end', async () => {
  const node = await spawnNode(['--relay', '--log-level', 'warn']);
  const nas = device();
  const phone = device();
  const service = randomBytes(32);
  const listener = listenOnRelay({ relay: node.url, self: nas.identity, service });
  try {
    await within(10_000, 'the registration', once(listener, 'registered'));
    const answered = new Promise<SecureStream>((resolve, reject) => {
      listener.once('leg', (leg: Duplex) =>
        openResponder(leg, { self: nas.identity, authorize: () => {} }).then(resolve, reject),
      );
    });
    const leg = await dialOnRelay({
      relay: node.url,
      self: phone.identity,
      service,
      device: nas.text,
    });
    const [initiator, responder] = await Promise.all([
      openInitiator(leg, { self: phone.identity, responder: nas.text, service: 'nas' }),
      answered,
    ]);
    initiator.write('hello');
    await once(responder, 'data');
    const failures = [errorOf(initiator), errorOf(responder)];
    await node.kill9();
    for (const error of await within(5000, 'both ends to fail', Promise.all(failures))) {
      assert.ok(error instanceof P2PError);
      assert.equal(error.code, 'tunnel_lost', error.message);
    }
  } finally {
    listener.close();
    await node.stop();
  }
});
