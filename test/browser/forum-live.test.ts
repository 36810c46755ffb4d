/**
 * The forum updates live: a post another user writes appears on an open page without a reload
 * and without polling. One node and two forum servers as child processes, each with its own
 * key; both gateways poll only once an hour, so the post can only reach A's gateway through its
 * live subscription to the node, and A's page only through the gateway's change events. The
 * page makes no request at all while nothing happens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { openBrowser } from '../helpers/browser.js';
import { newKeyFile, request, spawnForum } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

interface Health {
  poll: { rounds: number };
}

test(
  'a post from another user appears without a reload and without polling',
  {
    timeout: 180_000,
  },
  async () => {
    const node = await spawnNode(['--min-pow', '12', '--log-level', 'warn']);
    const [keyA, keyB] = [await newKeyFile(), await newKeyFile()];
    const args = (key: string) => ['--key', key, '--poll-interval', '3600', '--log-level', 'warn'];
    const [forumA, forumB] = await Promise.all([
      spawnForum(node.url, join(tempDir(), 'forum-a'), args(keyA.path)),
      spawnForum(node.url, join(tempDir(), 'forum-b'), args(keyB.path)),
    ]);

    const a = await openBrowser('live-a');
    await a.page.goto(`${forumA.url}/`);
    await a.page.waitForSelector('[data-test=login]');
    await a.page.setInputFiles('[data-test=key-file]', keyA.path);
    await a.page.waitForSelector('[data-test=post-form]');
    assert.equal(await a.page.textContent('[data-test=community-name]'), 'General');
    // A reload would lose this mark.
    await a.page.evaluate(() => {
      (globalThis as unknown as { mark: string }).mark = 'the same page';
    });

    // Quiet: the page asks nothing (the old pages asked every 3 and 5 s).
    await sleep(1000);
    const requests: string[] = [];
    a.page.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
    const roundsBefore = (
      (await request(forumA.url, 'GET', '/api/health')).body as unknown as Health
    ).poll.rounds;
    await sleep(8000);
    assert.equal(
      requests.length,
      0,
      `the page asked while nothing happened: ${requests.join(', ')}`,
    );

    // B posts in General through B's own gateway.
    const communities = (await request(forumB.url, 'GET', '/forum/api/communities')).body as {
      communities: { space: string; name: string }[];
    };
    const general = communities.communities.find((c) => c.name === 'General')!;
    const title = `Live from B ${Date.now().toString(36)}`;
    const posted = await request(forumB.url, 'POST', `/forum/api/c/${general.space}/posts`, {
      title,
      body: 'pushed, not polled',
    });
    assert.equal(posted.status, 201, JSON.stringify(posted.body));

    const shownBy = Date.now();
    await a.page.waitForSelector(`[data-test=post-title]:text("${title}")`, { timeout: 30_000 });
    const latencyMs = Date.now() - shownBy;
    await a.screenshot('40-live-post');
    assert.equal(
      await a.page.evaluate(() => (globalThis as unknown as { mark?: string }).mark),
      'the same page',
    );
    // A's gateway did not poll for it: the entry came through its subscription.
    const roundsAfter = (
      (await request(forumA.url, 'GET', '/api/health')).body as unknown as Health
    ).poll.rounds;
    assert.equal(roundsAfter, roundsBefore, 'the gateway ran a poll round');
    // The page asked only after it was told, and only for its views.
    assert.ok(requests.length > 0);
    assert.ok(
      requests.every((r) => r.startsWith('GET /forum/api/')),
      requests.join(', '),
    );
    assert.deepEqual(a.errors, []);
    assert.ok(latencyMs < 30_000);
  },
);
