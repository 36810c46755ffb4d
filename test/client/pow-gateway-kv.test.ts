/**
 * A gateway pays each entry's own proof of work: against a node whose full-size entries
 * (16 MiB) need 32 bits, about 4·10^9 hashes each (many minutes here), while entries of a few
 * hundred bytes to a few KiB need 17 to 20, creating a group (publish()) and writing a
 * key-value pair (the key-value hub's stamps) finish in seconds only if each entry was
 * stamped for its size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeEntry } from '../../src/entry/format.js';
import { powRuleFromHealth, requiredPowBits } from '../../src/entry/pow-rule.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { eventually } from '../helpers/gateways.js';
import { getFrames, health } from '../helpers/http.js';
import { ok, startDevice } from '../helpers/identity.js';
import { kvStatus } from '../helpers/kv.js';
import { startTestNode } from '../helpers/nodes.js';

test(
  'a gateway stamps group and key-value entries for their size',
  { timeout: 240_000 },
  async () => {
    const node = await startTestNode({
      max_entry_bytes: 16 * 1024 * 1024,
      min_pow_bits: 32,
      min_pow_floor_bits: 0,
    });
    const device = await startDevice(node.url);
    const group = (await ok(device.url, 'POST', '/api/groups', { name: 'sized' }, 201))
      .id as string;
    await ok(device.url, 'PUT', `/api/spaces/${group}/kv/value`, { key: 'colour', value: 'blue' });
    await eventually(
      'the key-value entry reached the node',
      async () => {
        const status = await kvStatus(device.url, group);
        return status.outbox === 0 ? status : undefined;
      },
      60_000,
    );

    // Everything on the node meets the rule for its size, and none was paid at full size.
    const rule = powRuleFromHealth((await health(node.url)).policy)!;
    const { frames, response } = await getFrames(node.url, 'since=0&limit=1000');
    assert.equal(response.status, 200, String(response.body));
    assert.ok(frames.length >= 2, `${frames.length} entries on the node`);
    for (const bytes of frames) {
      const entry = decodeEntry(bytes);
      const needed = requiredPowBits(rule, { table: entry.table, size: bytes.length });
      assert.ok(needed <= 21, `an entry of ${bytes.length} bytes needs ${needed}`);
      assert.ok(entryPowBits(entry) >= needed);
    }
  },
);
