/**
 * The SecureStream over real transports: large streams both ways at once, half-close,
 * back-pressure, padding and coalescing as seen on the wire, truncation, closing with a reason,
 * and a hostile middle that drops, reorders, repeats or alters records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { Duplex, Readable } from 'node:stream';
import { P2PError } from '../../src/errors.js';
import { bucketSize } from '../../src/encoding/size-buckets.js';
import { openInitiator, openResponder, type SecureStream } from '../../src/tunnel/index.js';
import {
  closed,
  device,
  errorOf,
  middle,
  streamPair,
  tcpPair,
  within,
  type FrameHook,
} from './transports.js';
import { exchangeRandom, receiveAll, sendRandom } from '../helpers/streams.js';

async function tunnel(
  transports: [Duplex, Duplex],
  pad = false,
): Promise<[SecureStream, SecureStream]> {
  const laptop = device();
  const nas = device();
  return Promise.all([
    openInitiator(transports[0], { self: laptop.identity, responder: nas.text, service: 's', pad }),
    openResponder(transports[1], { self: nas.identity, authorize: () => {} }),
  ]);
}

/** Two transports joined by a middle with these hooks (frame 0 is a handshake message). */
function hooked(hooks: { toResponder?: FrameHook; toInitiator?: FrameHook }): [Duplex, Duplex] {
  const [a, middleA] = streamPair();
  const [middleB, b] = streamPair();
  middle(middleA, middleB, hooks);
  return [a, b];
}

test('64 MiB of random bytes each way at once over TCP arrive byte for byte', async () => {
  const [initiator, responder] = await tunnel(await tcpPair());
  const total = 64 * 1024 * 1024;
  await within(
    120_000,
    'two 64 MiB streams',
    exchangeRandom(initiator, responder, total, 3 * 65_536 + 17),
  );
  await Promise.all([closed(initiator), closed(responder)]);
  assert.equal(initiator.errored, null);
  assert.equal(responder.errored, null);
});

test('half-close: the initiator ends, the responder keeps sending until it ends too', async () => {
  const [client, server] = await tcpPair();
  const [initiator, responder] = await tunnel([client, server]);
  initiator.end('the whole request');
  const request = await receiveAll(responder);
  assert.equal(request.bytes, 'the whole request'.length);
  assert.equal(responder.readableEnded, true);
  assert.equal(server.destroyed, false, 'the transport stays up for the other direction');
  const [sent, got] = await Promise.all([
    sendRandom(responder, 4 * 1024 * 1024),
    receiveAll(initiator),
  ]);
  assert.deepEqual(got, { bytes: 4 * 1024 * 1024, hash: sent });
  await Promise.all([closed(initiator), closed(responder)]);
  assert.equal(initiator.errored, null);
  assert.equal(responder.errored, null);
  await within(2000, 'both sockets to close', Promise.all([closed(client), closed(server)]));
});

test('back-pressure: a reader that pauses stops the writer, memory stays bounded', async () => {
  const [client, server] = await tcpPair();
  const [initiator, responder] = await tunnel([client, server]);
  let pulled = 0;
  const source = new Readable({
    highWaterMark: 64 * 1024,
    read() {
      pulled += 64 * 1024;
      this.push(Buffer.alloc(64 * 1024, pulled & 0xff));
    },
  });
  source.pipe(initiator);
  // The responder reads nothing for a while: everything in between fills up, then stops.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const stalled = pulled;
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(pulled, stalled, 'the writer is stopped while the reader does not read');
  // Kernel socket buffers on loopback hold a few MiB; the tunnel adds about two records.
  assert.ok(pulled < 24 * 1024 * 1024, `${pulled} bytes pulled while the reader paused`);
  assert.ok(responder.readableLength <= 2 * 65_536, `${responder.readableLength} buffered`);
  assert.ok(initiator.writableLength <= 2 * 65_536, `${initiator.writableLength} buffered`);
  // Reading again lets it all flow.
  let read = 0;
  await within(
    60_000,
    'reading 32 MiB after the pause',
    new Promise<void>((resolve) => {
      responder.on('data', (chunk: Buffer) => {
        read += chunk.length;
        if (read >= 32 * 1024 * 1024) resolve();
      });
    }),
  );
  assert.ok(pulled > stalled + 16 * 1024 * 1024);
  source.unpipe(initiator);
  source.destroy();
  initiator.on('error', () => {});
  responder.on('error', () => {});
  initiator.destroy();
  responder.destroy();
});

test('padded records have bucket sizes on the wire; writes of one tick share a record', async () => {
  const sizes: number[] = [];
  const record: FrameHook = (index, frame) => {
    if (index > 0) sizes.push(frame.length - 4);
    return [frame];
  };
  const [initiator, responder] = await tunnel(hooked({ toResponder: record }), true);
  assert.deepEqual(sizes, [64 + 16], 'the key confirmation is one smallest bucket');
  for (let i = 0; i < 100; i++) initiator.write('0123456789');
  const [first] = (await once(responder, 'data')) as [Buffer];
  responder.pause();
  assert.equal(first.length, 1000, 'a hundred writes in one tick arrive as one record');
  assert.deepEqual(sizes, [80, bucketSize(1005, 64) + 16]);
  const [sent, got] = await Promise.all([
    sendRandom(initiator, 3 * 1024 * 1024 + 12_345, 100_000),
    receiveAll(responder),
  ]);
  assert.deepEqual(got, { bytes: 3 * 1024 * 1024 + 12_345, hash: sent });
  for (const size of sizes) {
    const plaintext = size - 16;
    assert.equal(bucketSize(plaintext, 64), plaintext, `${plaintext} is a bucket`);
    assert.ok(plaintext <= 65_536);
  }
  assert.ok(sizes.filter((size) => size === 65_536 + 16).length >= 48, 'full records fill 64 KiB');
  responder.end();
  await Promise.all([closed(initiator.resume()), closed(responder)]);
});

test('unpadded records carry their data without padding', async () => {
  const sizes: number[] = [];
  const [initiator, responder] = await tunnel(
    hooked({
      toResponder: (index, frame) => {
        if (index > 0) sizes.push(frame.length - 4);
        return [frame];
      },
    }),
  );
  initiator.write('abc');
  await once(responder, 'data');
  assert.deepEqual(sizes, [5 + 16, 5 + 3 + 16]);
  initiator.destroy();
  await errorOf(responder);
});

test('a transport that ends without the end record is a truncation, not an end', async () => {
  const [client, server] = await tcpPair();
  const [initiator, responder] = await tunnel([client, server]);
  initiator.write('some data');
  const [data] = (await once(responder, 'data')) as [Buffer];
  assert.equal(data.toString(), 'some data');
  const failed = errorOf(responder);
  let ended = false;
  responder.on('end', () => {
    ended = true;
  });
  client.end(); // under the tunnel, as a relay that drops the connection would
  const error = (await within(2000, 'the truncation', failed)) as P2PError;
  assert.equal(error.code, 'tunnel_lost');
  assert.match(error.message, /truncated/);
  assert.equal(ended, false);
  initiator.on('error', () => {});
});

test('a transport that ends inside a record is corrupt', async () => {
  let cut = false;
  const [a, b] = hooked({
    toResponder: (index, frame) => {
      if (index < 2) return [frame];
      cut = true;
      return [frame.subarray(0, 30)];
    },
  });
  const [initiator, responder] = await tunnel([a, b]);
  const failed = errorOf(responder);
  initiator.write(Buffer.alloc(1000, 1));
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.ok(cut);
  initiator.on('error', () => {});
  a.end();
  const error = (await within(2000, 'the cut record', failed)) as P2PError;
  assert.equal(error.code, 'tunnel_corrupt');
  assert.match(error.message, /ended inside a record/);
});

test('destroy with an error tells the other end why, authenticated', async () => {
  const [initiator, responder] = await tunnel(await tcpPair());
  const failed = errorOf(initiator);
  responder.on('error', () => {});
  responder.destroy(new P2PError('no_such_device', 'the device was revoked'));
  const error = (await within(2000, 'the close record', failed)) as P2PError;
  assert.equal(error.code, 'tunnel_closed');
  assert.match(error.message, /the device was revoked \(no_such_device\)/);
  assert.deepEqual(error.details, { reason_code: 'no_such_device' });
});

test('ping measures a round trip through the tunnel', async () => {
  const [initiator, responder] = await tunnel(await tcpPair());
  const [up, down] = await Promise.all([initiator.ping(), responder.ping()]);
  assert.ok(up >= 0 && up < 5000);
  assert.ok(down >= 0 && down < 5000);
  initiator.end();
  responder.end();
  initiator.resume();
  responder.resume();
  await Promise.all([closed(initiator), closed(responder)]);
});

/** Sends four records of data, each in a tick of its own. */
async function fourRecords(stream: SecureStream): Promise<void> {
  for (const text of ['first', 'second', 'third', 'fourth']) {
    stream.write(text);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

const faults: [string, () => FrameHook][] = [
  ['drops a record', () => (index, frame) => (index === 3 ? [] : [frame])],
  [
    'reorders two records',
    () => {
      let held: Buffer | undefined;
      return (index, frame) => {
        if (index === 2) {
          held = frame;
          return [];
        }
        return index === 3 ? [frame, held!] : [frame];
      };
    },
  ],
  [
    'repeats a record',
    () => (index, frame) => (index === 2 ? [frame, Buffer.from(frame)] : [frame]),
  ],
  [
    'flips one bit of a record',
    () => (index, frame) => {
      if (index === 3) frame[frame.length - 20]! ^= 0x01;
      return [frame];
    },
  ],
  [
    'claims a huge record',
    () => (index, frame) => {
      if (index === 3) frame.writeUInt32BE(1 << 30, 0);
      return [frame];
    },
  ],
];

for (const [what, hook] of faults) {
  test(`a middle that ${what}: the receiver fails with tunnel_corrupt, the sender learns it`, async () => {
    const [initiator, responder] = await tunnel(hooked({ toResponder: hook() }));
    const received: string[] = [];
    responder.on('data', (chunk: Buffer) => received.push(chunk.toString()));
    const [receiverError, senderError] = await within(
      3000,
      what,
      Promise.all([errorOf(responder), errorOf(initiator), fourRecords(initiator)]),
    );
    assert.ok(receiverError instanceof P2PError);
    assert.equal(receiverError.code, 'tunnel_corrupt', receiverError.message);
    assert.ok(senderError instanceof P2PError);
    if (what !== 'claims a huge record') {
      assert.match(receiverError.message, /does not authenticate/);
    }
    assert.equal(senderError.code, 'tunnel_closed');
    assert.equal((senderError.details as { reason_code: string }).reason_code, 'tunnel_corrupt');
    // Only what came before the fault is delivered, in order.
    assert.deepEqual(received, ['first', 'second'].slice(0, received.length));
    assert.ok(received.length <= 1, `${received.join()} delivered across a fault`);
  });
}

test('a peer that ends the tunnel but never closes its socket does not keep ours', async () => {
  const server = net.createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const socket = net.connect({
    port: (server.address() as net.AddressInfo).port,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  const [[responderSocket]] = await Promise.all([accepted, once(socket, 'connect')]);
  server.close();
  // The initiator's transport sends its records but never its FIN.
  const noFin = new Duplex({
    write: (chunk: Buffer, _encoding, callback) => socket.write(chunk, callback),
    final: (callback) => callback(),
    read: () => socket.resume(),
  });
  socket.on('data', (chunk: Buffer) => {
    if (!noFin.push(chunk)) socket.pause();
  });
  socket.on('end', () => noFin.push(null));
  try {
    const [initiator, responder] = await tunnel([noFin, responderSocket]);
    initiator.end('bye');
    await receiveAll(responder);
    responder.end();
    await receiveAll(initiator);
    await Promise.all([closed(initiator), closed(responder)]);
    assert.equal(responder.errored, null);
    await within(5000, 'our socket to be destroyed', closed(responderSocket));
  } finally {
    socket.destroy();
  }
});
