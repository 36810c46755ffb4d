/**
 * A key-value store on two nodes that sync with each other, either of which may be down: two
 * persons' gateways, each configured with both nodes, keep writing and reading while one node or
 * the other is away, and while both are (the write is kept and sent when a node is back).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, request } from '../helpers/gateways.js';
import { freePort } from '../helpers/http.js';
import { acceptWelcome, groupView, ok, refresh, startDevice } from '../helpers/identity.js';
import { spawnNode, type NodeProcess } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

test(
  'writes travel through whichever node is up, and wait while none is',
  { timeout: 180_000 },
  async () => {
    const ports = [await freePort(), await freePort()] as const;
    const urls = ports.map((p) => `http://127.0.0.1:${p}`);
    const dirs = [tempDir(), tempDir()];
    const start = (i: 0 | 1): Promise<NodeProcess> =>
      spawnNode(
        [
          '--port',
          String(ports[i]),
          '--peer',
          urls[1 - i]!,
          '--min-pow',
          '0',
          '--sync-interval',
          '0.5',
        ],
        dirs[i],
      );
    const nodes: NodeProcess[] = [await start(0), await start(1)];
    const [a, b] = await Promise.all([startDevice(urls), startDevice(urls)]);
    const group = (await ok(a.url, 'POST', '/api/groups', { name: 'two nodes' }, 201)).id as string;
    await ok(
      a.url,
      'POST',
      `/api/groups/${group}/members`,
      { member: b.text, role: 'writer' },
      201,
    );
    await acceptWelcome(b.url, group);
    await eventually('b holds the keys', async () => {
      await refresh(b.url);
      return (await groupView(b.url, group)).writable;
    });

    const put = (key: string) =>
      ok(a.url, 'PUT', `/api/spaces/${group}/kv/value`, { key, value: `value of ${key}` });
    const readOnB = (key: string) =>
      eventually(`b reads ${key}`, async () => {
        await refresh(b.url);
        const answer = await request(b.url, 'GET', `/api/spaces/${group}/kv/value?key=${key}`);
        return answer.status === 200 ? (answer.body.value as string) : undefined;
      });

    // The first node away: the write goes to the second.
    await nodes[0]!.stop();
    await put('one');
    assert.equal(await readOnB('one'), 'value of one');

    // The first back, the second away: the write goes to the first.
    nodes[0] = await start(0);
    await nodes[1]!.stop();
    await put('two');
    assert.equal(await readOnB('two'), 'value of two');

    // Both away: the write is acknowledged and waits in the outbox.
    await nodes[0]!.stop();
    const offline = await put('three');
    assert.ok((offline.pending as number) >= 1, JSON.stringify(offline));
    nodes[1] = await start(1);
    assert.equal(await readOnB('three'), 'value of three');
    await eventually('the outbox is empty', async () => {
      const status = await ok(a.url, 'GET', `/api/spaces/${group}/kv/status`);
      return status.outbox === 0;
    });

    // Everything ends on both nodes once they sync: a replica reading only the first has it all.
    nodes[0] = await start(0);
    const c = await startDevice(urls[0]!, b.keyFile);
    await acceptWelcome(c.url, group);
    await eventually(
      "a fresh replica of b's identity on the first node alone holds the three keys",
      async () => {
        await refresh(c.url);
        const range = await request(c.url, 'GET', `/api/spaces/${group}/kv/range`);
        const keys =
          range.status === 200 ? (range.body.entries as { key: string }[]).map((e) => e.key) : [];
        return keys.join(',') === 'one,three,two';
      },
    );
    await Promise.all([a.stop(), b.stop(), c.stop(), ...nodes.map((n) => n.stop())]);
  },
);
