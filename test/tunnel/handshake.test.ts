/**
 * The tunnel handshake over real transports: who is told what when the device, the service,
 * the version or the bytes are wrong, replayed first and second messages, and deadlines.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { Duplex } from 'node:stream';
import { P2PError } from '../../src/errors.js';
import { buildM1, identityBytesOfText } from '../../src/tunnel/handshake.js';
import { openInitiator, openResponder, type SecureStream } from '../../src/tunnel/index.js';
import { closed, device, middle, streamPair, tcpPair, within, type Device } from './transports.js';
import { rejectsWith } from '../helpers/p2p-error.js';

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(4 + message.length);
  out.writeUInt32BE(message.length, 0);
  out.set(message, 4);
  return out;
}

/** An unpadded first handshake message from `from` to `to` for `service`, not framed. */
function firstMessage(from: Device, to: Device, service: string): Buffer {
  return buildM1({
    self: from.identity,
    responder: identityBytesOfText(to.text),
    service,
    pad: false,
  }).m1;
}

/** Collects what a raw transport receives until it ends or closes. */
function received(stream: Duplex): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => {
    const done = () => resolve(Buffer.concat(chunks));
    stream.once('end', done);
    stream.once('close', done);
  });
}

/** Ends both directions and waits until both streams have closed without an error. */
async function closeBoth(a: SecureStream, b: SecureStream): Promise<void> {
  const all = [a, b].map(async (stream) => {
    stream.resume();
    stream.end();
    await closed(stream);
    assert.equal(stream.errored, null);
  });
  await Promise.all(all);
}

async function exchange(initiator: SecureStream, responder: SecureStream): Promise<void> {
  initiator.write('ping from the initiator');
  const [first] = (await once(responder, 'data')) as [Buffer];
  assert.equal(first.toString(), 'ping from the initiator');
  responder.write('pong from the responder');
  const [second] = (await once(initiator, 'data')) as [Buffer];
  assert.equal(second.toString(), 'pong from the responder');
}

test('a handshake over TCP on 127.0.0.1 authenticates both devices and carries the service', async () => {
  const laptop = device();
  const nas = device();
  const [client, server] = await tcpPair();
  const asked: [string, string][] = [];
  const [initiator, responder] = await Promise.all([
    openInitiator(client, { self: laptop.identity, responder: nas.text, service: 'nas web' }),
    openResponder(server, {
      self: nas.identity,
      authorize: (who, service) => {
        asked.push([who, service]);
      },
    }),
  ]);
  assert.deepEqual(asked, [[laptop.text, 'nas web']]);
  assert.equal(initiator.peer, nas.text);
  assert.equal(responder.peer, laptop.text);
  assert.equal(responder.service, 'nas web');
  assert.equal(initiator.padded, false);
  assert.equal(responder.padded, false);
  await exchange(initiator, responder);
  assert.ok((await initiator.ping()) >= 0);
  await closeBoth(initiator, responder);
});

test('a handshake over an in-memory stream pair, padded on request', async () => {
  const phone = device();
  const laptop = device();
  const [a, b] = streamPair();
  const [initiator, responder] = await Promise.all([
    openInitiator(a, { self: phone.identity, responder: laptop.text, service: 'ssh', pad: true }),
    openResponder(b, { self: laptop.identity, authorize: async () => {} }),
  ]);
  assert.equal(initiator.padded, true);
  assert.equal(responder.padded, true);
  await exchange(initiator, responder);
  await closeBoth(initiator, responder);
});

test('a refusal reaches the initiator with its code and message; the responder fails too', async () => {
  const stranger = device();
  const nas = device();
  const [client, server] = await tcpPair();
  const answer = received(client);
  const opened = openInitiator(client, {
    self: stranger.identity,
    responder: nas.text,
    service: 'nas',
  });
  const answered = openResponder(server, {
    self: nas.identity,
    authorize: (who) => {
      throw new P2PError('no_such_device', `${who} is not a device of this person`);
    },
  });
  await Promise.all([
    rejectsWith(opened, 'no_such_device', new RegExp(`${stranger.text} is not a device`)),
    rejectsWith(answered, 'no_such_device'),
  ]);
  await answer;
  assert.ok(client.destroyed);
});

test('an authorize that fails for its own reasons sends only a generic refusal', async () => {
  const a = device();
  const b = device();
  const [client, server] = await tcpPair();
  const opened = openInitiator(client, { self: a.identity, responder: b.text, service: 'x' });
  const answered = openResponder(server, {
    self: b.identity,
    authorize: () => {
      throw new Error('database is locked at /secret/path');
    },
  });
  await Promise.all([
    assert.rejects(answered, /database is locked/),
    rejectsWith(opened, 'tunnel_refused', /cannot serve/),
  ]);
  await opened.catch((error: Error) => assert.doesNotMatch(error.message, /secret/));
});

test('reaching another device than the one expected fails on both sides', async () => {
  const laptop = device();
  const nas = device();
  const printer = device();
  const [client, server] = await tcpPair();
  let asked = false;
  const opened = openInitiator(client, {
    self: laptop.identity,
    responder: nas.text,
    service: 's',
  });
  const answered = openResponder(server, {
    self: printer.identity,
    authorize: () => {
      asked = true;
    },
  });
  await Promise.all([
    rejectsWith(opened, 'tunnel_wrong_device', new RegExp(printer.text)),
    rejectsWith(answered, 'tunnel_wrong_device'),
  ]);
  assert.equal(asked, false);
});

test('an answer from a device other than the one named does not authenticate', async () => {
  // The middle hands the initiator's first message, rewritten to name the printer and sealed
  // by the middle's own key, to the printer: the printer answers, but not as the NAS.
  const laptop = device();
  const nas = device();
  const printer = device();
  const [a, middleA] = streamPair();
  const [middleB, b] = streamPair();
  middle(middleA, middleB, {
    toResponder: (index, bytes) =>
      index === 0 ? [frame(firstMessage(laptop, printer, 's'))] : [bytes],
  });
  const opened = openInitiator(a, { self: laptop.identity, responder: nas.text, service: 's' });
  const answered = openResponder(b, { self: printer.identity, authorize: () => {} });
  await Promise.all([
    rejectsWith(
      opened,
      'tunnel_bad_handshake',
      new RegExp(`does not authenticate as sent by ${nas.text}`),
    ),
    rejectsWith(answered, 'tunnel_lost'),
  ]);
});

test('a replayed first message gets an answer but never a tunnel', async () => {
  const laptop = device();
  const nas = device();
  // A real session, recorded by the middle.
  const [a, middleA] = streamPair();
  const [middleB, b] = streamPair();
  const toResponder: Buffer[] = [];
  middle(middleA, middleB, {
    toResponder: (_index, bytes) => {
      toResponder.push(Buffer.from(bytes)); // the receiver decrypts its copy in place
      return [bytes];
    },
  });
  const [initiator, responder] = await Promise.all([
    openInitiator(a, { self: laptop.identity, responder: nas.text, service: 'nas' }),
    openResponder(b, { self: nas.identity, authorize: () => {} }),
  ]);
  await exchange(initiator, responder);
  await closeBoth(initiator, responder);
  const [m1, confirmation] = toResponder;
  assert.ok(m1 && confirmation);

  // Replayed alone: the responder answers, then waits for a confirmation that never comes.
  for (const replay of [[m1], [m1, confirmation]]) {
    const [attacker, server] = await tcpPair();
    let authorized = 0;
    const answered = openResponder(server, {
      self: nas.identity,
      timeoutMs: 500,
      authorize: () => {
        authorized += 1;
      },
    });
    const answer = received(attacker);
    attacker.write(replay[0]!);
    if (replay[1]) {
      // The old confirmation once the new answer is in: it was made with other keys.
      await once(attacker, 'data');
      attacker.write(replay[1]);
    }
    const settled = await within(
      5000,
      'the responder to give up',
      answered.then(
        () => 'opened',
        (error: unknown) => error,
      ),
    );
    assert.ok(
      settled instanceof P2PError,
      `the replay must not open a tunnel (${String(settled)})`,
    );
    assert.equal(settled.code, replay[1] ? 'tunnel_bad_handshake' : 'tunnel_timeout');
    if (replay[1]) assert.match(settled.message, /key confirmation.*does not authenticate/);
    assert.equal(authorized, 1);
    assert.ok((await answer).length > 0, 'the responder answered the replayed message');
  }
});

test('a replayed answer does not authenticate for a new first message', async () => {
  const laptop = device();
  const nas = device();
  let recorded: Buffer | undefined;
  {
    const [a, middleA] = streamPair();
    const [middleB, b] = streamPair();
    middle(middleA, middleB, {
      toInitiator: (index, bytes) => {
        if (index === 0) recorded = Buffer.from(bytes);
        return [bytes];
      },
    });
    const [initiator, responder] = await Promise.all([
      openInitiator(a, { self: laptop.identity, responder: nas.text, service: 'nas' }),
      openResponder(b, { self: nas.identity, authorize: () => {} }),
    ]);
    await closeBoth(initiator, responder);
  }
  assert.ok(recorded);
  const [client, attacker] = await tcpPair();
  attacker.once('data', () => attacker.write(recorded!));
  await rejectsWith(
    openInitiator(client, { self: laptop.identity, responder: nas.text, service: 'nas' }),
    'tunnel_bad_handshake',
    /does not authenticate/,
  );
});

test('garbage instead of a first message fails at once, before authorize', async () => {
  const nas = device();
  const cases: [string, Buffer, RegExp][] = [
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), /claims \d+ bytes/],
    ['a short frame of junk', frame(Buffer.from('hello there, tunnel')), /not a tunnel handshake/],
    ['random bytes', Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256)), /claims/],
  ];
  for (const [what, bytes, message] of cases) {
    const [attacker, server] = await tcpPair();
    let asked = false;
    const answered = openResponder(server, {
      self: nas.identity,
      authorize: () => {
        asked = true;
      },
    });
    attacker.write(bytes);
    await within(2000, what, rejectsWith(answered, 'tunnel_bad_handshake', message));
    assert.equal(asked, false, what);
  }
});

test('another version, a damaged message and a small-order key get clear refusals', async () => {
  const laptop = device();
  const nas = device();
  const good = firstMessage(laptop, nas, 'nas');
  const version2 = Buffer.from(good);
  version2[4] = 2;
  const flipped = Buffer.from(good);
  flipped[flipped.length - 3]! ^= 0x40;
  const smallOrder = Buffer.from(good);
  smallOrder.fill(0, 133, 165); // enc1: the all-zero point
  smallOrder[133] = 1;
  const cases: [string, Buffer, string, RegExp][] = [
    ['version 2', version2, 'tunnel_version', /version 2 is not supported.*version 1/],
    ['a flipped byte', flipped, 'tunnel_bad_handshake', /does not authenticate/],
    ['a small-order enc1', smallOrder, 'tunnel_bad_handshake', /all-zero/],
  ];
  for (const [what, m1, code, message] of cases) {
    const [attacker, server] = await tcpPair();
    const answered = openResponder(server, { self: nas.identity, authorize: () => {} });
    const answer = received(attacker);
    attacker.write(frame(m1));
    await rejectsWith(answered, code, message);
    const reply = await answer;
    if (code === 'tunnel_version' || what === 'a flipped byte') {
      // A refusal in the clear: magic, version 1, kind 1, the code.
      assert.equal(reply.subarray(4, 10).toString('latin1'), 'p2pt\u0001\u0001', what);
      assert.ok(reply.includes(Buffer.from(code)), what);
    }
  }
});

test('an initiator gets the refusal sent in the clear for another version', async () => {
  const laptop = device();
  const nas = device();
  const [a, middleA] = streamPair();
  const [middleB, b] = streamPair();
  middle(middleA, middleB, {
    toResponder: (index, bytes) => {
      if (index === 0) bytes[8] = 9; // the version byte, after the length and "p2pt"
      return [bytes];
    },
  });
  const opened = openInitiator(a, { self: laptop.identity, responder: nas.text, service: 's' });
  const answered = openResponder(b, { self: nas.identity, authorize: () => {} });
  await Promise.all([
    rejectsWith(opened, 'tunnel_version', /version 9 is not supported/),
    rejectsWith(answered, 'tunnel_version'),
  ]);
});

test('a responder identity with a small-order box key is refused before sending', async () => {
  const laptop = device();
  const bytes = identityBytesOfText(device().text);
  bytes.fill(0, 32);
  const { encodeKeyText } = await import('../../src/encoding/key-text.js');
  const [client] = await tcpPair();
  await rejectsWith(
    openInitiator(client, {
      self: laptop.identity,
      responder: encodeKeyText('identity', bytes),
      service: 's',
    }),
    'tunnel_bad_handshake',
    /all-zero/,
  );
});

test('deadlines: a silent or slow initiator, a silent responder, a slow authorize', async () => {
  const laptop = device();
  const nas = device();
  const good = frame(firstMessage(laptop, nas, 'nas'));
  for (const sent of [Buffer.alloc(0), good.subarray(0, 50)]) {
    const [attacker, server] = await tcpPair();
    const started = Date.now();
    const answered = openResponder(server, {
      self: nas.identity,
      timeoutMs: 300,
      authorize: () => {},
    });
    attacker.write(sent);
    await rejectsWith(answered, 'tunnel_timeout', /300 ms/);
    assert.ok(Date.now() - started < 3000);
    await within(2000, 'the transport to close', closed(server));
  }
  {
    const [client] = await tcpPair();
    await rejectsWith(
      openInitiator(client, {
        self: laptop.identity,
        responder: nas.text,
        service: 'nas',
        timeoutMs: 300,
      }),
      'tunnel_timeout',
    );
  }
  {
    const [client, server] = await tcpPair();
    const opened = openInitiator(client, {
      self: laptop.identity,
      responder: nas.text,
      service: 'nas',
      timeoutMs: 2000,
    });
    const answered = openResponder(server, {
      self: nas.identity,
      timeoutMs: 300,
      authorize: () => new Promise((resolve) => setTimeout(resolve, 1000)),
    });
    await Promise.all([
      rejectsWith(answered, 'tunnel_timeout'),
      rejectsWith(opened, 'tunnel_lost'),
    ]);
  }
});

test('bad arguments are refused before anything is sent', async () => {
  const laptop = device();
  const nas: Device = device();
  const [client, server] = await tcpPair();
  let sent = 0;
  server.on('data', (chunk: Buffer) => {
    sent += chunk.length;
  });
  await rejectsWith(
    openInitiator(client, { self: laptop.identity, responder: 'p2pid1nope', service: 's' }),
    'bad_key',
  );
  await rejectsWith(
    openInitiator(client, { self: laptop.identity, responder: nas.text, service: '' }),
    'bad_argument',
  );
  await rejectsWith(
    openInitiator(client, {
      self: laptop.identity,
      responder: nas.text,
      service: 'x'.repeat(129),
    }),
    'bad_argument',
  );
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(sent, 0);
  assert.equal(client.destroyed, false);
});

test('bytes sent ahead during the handshake are held back by flow control, not buffered', async () => {
  const laptop = device();
  const nas = device();
  const m1 = frame(firstMessage(laptop, nas, 'nas'));
  const [attacker, server] = await tcpPair();
  const answered = openResponder(server, {
    self: nas.identity,
    timeoutMs: 1500,
    // A slow decision: the time the flood has to pile up.
    authorize: () => new Promise((resolve) => setTimeout(resolve, 1000)),
  });
  attacker.on('error', () => {});
  attacker.write(m1);
  const flood = Buffer.alloc(1024 * 1024, 0x41);
  for (let i = 0; i < 64; i++) attacker.write(flood);
  await new Promise((resolve) => setTimeout(resolve, 800));
  // Loopback socket buffers take a few MiB; the 64 MiB sent do not get read.
  assert.ok(server.bytesRead < 16 * 1024 * 1024, `${server.bytesRead} bytes read`);
  await rejectsWith(answered, 'tunnel_bad_handshake', /claims/);
  attacker.destroy();
});
