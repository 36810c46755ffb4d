/**
 * The gateway's change events (GET /api/events) on real HTTP: a stream opens with `ready`,
 * says `change` when a poll round took a record that another gateway of the same identity
 * wrote, refuses streams past its cap, and a gateway with streams open still closes promptly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { get, type ClientRequest } from 'node:http';
import { MAX_EVENT_STREAMS } from '../../src/gateway/routes/events.js';
import { apiKeyOf, newKeyFile, request, startTestGateway } from '../helpers/gateways.js';
import { startTestNode } from '../helpers/nodes.js';

interface EventStreamClient {
  readonly status: number;
  readonly events: { event: string; data: string }[];
  readonly ended: Promise<void>;
  next(event: string, ms: number): Promise<{ event: string; data: string }>;
  close(): void;
}

/** Opens an event stream and collects its events as they come. */
function openEvents(base: string): Promise<EventStreamClient> {
  return new Promise((resolve, reject) => {
    const events: { event: string; data: string }[] = [];
    const waiters: (() => void)[] = [];
    let req: ClientRequest | undefined = undefined;
    req = get(
      new URL('/api/events', base),
      { headers: { authorization: `Bearer ${apiKeyOf(base)}` } },
      (res) => {
        let text = '';
        let endedResolve: () => void = () => undefined;
        const ended = new Promise<void>((r) => (endedResolve = r));
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
          for (let at = text.indexOf('\n\n'); at >= 0; at = text.indexOf('\n\n')) {
            const block = text.slice(0, at);
            text = text.slice(at + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
            if (event) events.push({ event, data });
          }
          for (const wake of waiters.splice(0)) wake();
        });
        res.on('end', endedResolve);
        res.on('close', endedResolve);
        resolve({
          status: res.statusCode ?? 0,
          events,
          ended,
          close: () => req!.destroy(),
          next: async (event, ms) => {
            const deadline = Date.now() + ms;
            for (;;) {
              const found = events.find((e) => e.event === event);
              if (found) return found;
              if (Date.now() > deadline) throw new Error(`no ${event} event within ${ms} ms`);
              await new Promise<void>((wake) => {
                waiters.push(wake);
                setTimeout(wake, 100);
              });
            }
          },
        });
      },
    );
    req.on('error', reject);
  });
}

test('a stream says ready, then change when a poll round takes a new record', async () => {
  const node = await startTestNode();
  const key = await newKeyFile();
  const writer = await startTestGateway([node.url], { key_file: key.path });
  const reader = await startTestGateway([node.url], {
    key_file: key.path,
    poll_interval_seconds: 0.3,
  });
  const stream = await openEvents(reader.url);
  assert.equal(stream.status, 200);
  await stream.next('ready', 5_000);
  assert.equal(
    stream.events.some((e) => e.event === 'change'),
    false,
  );

  const written = await request(writer.url, 'POST', '/api/spaces/me/collections/notes/records', {
    data: { title: 'seen elsewhere' },
  });
  assert.equal(written.status, 201);
  const change = await stream.next('change', 20_000);
  const counts = JSON.parse(change.data) as { records: number; invitations: number };
  assert.ok(counts.records >= 1, change.data);
  stream.close();
});

test('streams past the cap are refused, and closing the gateway ends the open ones', async () => {
  const node = await startTestNode();
  const gateway = await startTestGateway([node.url], { poll_interval_seconds: 60 });
  const streams: EventStreamClient[] = [];
  for (let i = 0; i < MAX_EVENT_STREAMS; i += 1) streams.push(await openEvents(gateway.url));
  assert.ok(streams.every((s) => s.status === 200));
  const refused = await request(gateway.url, 'GET', '/api/events');
  assert.equal(refused.status, 429);
  assert.equal((refused.body as { error: { code: string } }).error.code, 'rate_limited');

  // One stream closed by its reader frees its place.
  streams.pop()!.close();
  await new Promise((r) => setTimeout(r, 200));
  const again = await openEvents(gateway.url);
  assert.equal(again.status, 200);
  streams.push(again);

  const started = Date.now();
  await gateway.close();
  assert.ok(Date.now() - started < 10_000, `close took ${Date.now() - started} ms`);
  await Promise.all(streams.map((s) => s.ended));
});
