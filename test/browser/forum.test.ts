/**
 * The forum end to end, with real parts only: two nodes as child processes that sync with each
 * other, two forum servers (gateways) as child processes on different nodes with their own
 * keys, and two users in two headless Chromium browsers.
 *
 * A signs in with a key file and posts; B creates an identity in the browser, sees the post
 * after the nodes sync, and replies; A sees the reply. A makes a private copy of the community
 * and invites a third identity, not B: B's forum does not show it, B's gateway cannot open its
 * entries, and neither node's stored bytes contain any plaintext. The dashboard of a node shows
 * what the test created. Every page must render without console errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { openEntry } from '../../src/entry/open.js';
import { generateIdentity, identityText, parseIdentity } from '../../src/keys/keys.js';
import { openBrowser, type BrowserUser } from '../helpers/browser.js';
import { eventually, newKeyFile, request, spawnGateway } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Every byte a node keeps on disk (database, WAL), as one latin1 string to search. */
function storedBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((name) => name.startsWith('entries.sqlite'))
    .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
    .join('');
}

function noErrors(...users: BrowserUser[]): void {
  assert.deepEqual(
    users.flatMap((u) => u.errors),
    [],
  );
}

test(
  'two users on two nodes: posts, replies, a private copy and the dashboard',
  { timeout: 240_000 },
  async () => {
    const run = Date.now().toString(36);
    const marker = {
      post: `Greetings from A ${run}`,
      body: `The first public words ${run}`,
      reply: `B answers ${run}`,
      secret: `Private plans ${run}`,
    };

    // Two nodes that know each other and sync every half second.
    const [port1, port2] = [await freePort(), await freePort()];
    const url1 = `http://127.0.0.1:${port1}`;
    const url2 = `http://127.0.0.1:${port2}`;
    const common = ['--min-pow', '12', '--sync-interval', '0.5', '--log-level', 'warn'];
    const [node1, node2] = await Promise.all([
      spawnNode(['--port', String(port1), '--peer', url2, ...common]),
      spawnNode(['--port', String(port2), '--peer', url1, ...common]),
    ]);
    // spawnNode passes --port 0 first; the later --port wins.
    assert.equal(node1.url, url1);
    assert.equal(node2.url, url2);

    // Two forum servers, each with its own key, each on its own node.
    const keyA = await newKeyFile();
    const forumArgs = (node: string, data: string, key: string) => [
      'app',
      'forum',
      '--port',
      '0',
      '--node',
      node,
      '--data',
      data,
      '--key',
      key,
      '--poll-interval',
      '0.5',
      '--log-level',
      'warn',
    ];
    const dataB = join(tempDir(), 'forum-b');
    const [forumA, forumB] = await Promise.all([
      spawnGateway(forumArgs(url1, join(tempDir(), 'forum-a'), keyA.path)),
      spawnGateway(forumArgs(url2, dataB, (await newKeyFile()).path)),
    ]);
    assert.equal(forumA.identity, identityText(keyA.identity));

    const a = await openBrowser('a');
    const b = await openBrowser('b');

    // A signs in with a key file.
    await a.page.goto(`${forumA.url}/`);
    await a.page.waitForSelector('[data-test=login]');
    await a.screenshot('01-login');
    await a.page.setInputFiles('[data-test=key-file]', keyA.path);
    await a.page.waitForSelector('[data-test=post-form]');
    assert.equal(await a.page.textContent('[data-test=community-name]'), 'General');

    // A posts in the public General community.
    await a.page.fill('[data-test=post-title-input]', marker.post);
    await a.page.fill('[data-test=post-body-input]', marker.body);
    await a.page.click('[data-test=post-submit]');
    await a.page.waitForSelector(`[data-test=post-title]:text("${marker.post}")`);
    await a.screenshot('02-a-posted');

    // B makes an identity in the browser (WebCrypto), which registers with B's gateway.
    await b.page.goto(`${forumB.url}/`);
    await b.page.waitForSelector('[data-test=login]');
    await b.page.click('[data-test=create-identity]');
    await b.page.waitForSelector('[data-test=created-banner]');
    const identityB = (await b.page.getAttribute('[data-test=me]', 'title'))!;
    assert.match(identityB, /^p2pid1/);
    assert.notEqual(identityB, forumB.identity);
    // The identity made by WebCrypto downloads as a key file that p2pcloud itself reads.
    const [download] = await Promise.all([
      b.page.waitForEvent('download'),
      b.page.click('[data-test=created-banner] button.primary'),
    ]);
    const downloaded = parseIdentity(readFileSync((await download.path())!, 'utf8'));
    assert.equal(identityText(downloaded), identityB);

    // B sees A's post once node 1 and node 2 have synced and B's gateway has polled, and replies.
    await b.page.waitForSelector(`[data-test=post-title]:text("${marker.post}")`, {
      timeout: 60_000,
    });
    await b.screenshot('03-b-sees-post');
    await b.page.click(`[data-test=post-title]:text("${marker.post}")`);
    await b.page.waitForSelector('[data-test=comment-input]');
    await b.page.fill('[data-test=comment-input]', marker.reply);
    await b.page.click('[data-test=comment-submit]');
    await b.page.waitForSelector(`[data-test=comment-body]:text("${marker.reply}")`);
    await b.page.click('[data-test=post] .vote-up');
    await b.page.waitForSelector('[data-test=post] [data-test=score]:text-is("1")');

    // B signs out and back in with the identity kept in this browser (IndexedDB).
    await b.page.click('[data-test=me]');
    await b.page.click('[data-test=sign-out]');
    await b.page.waitForSelector('[data-test=stored-sign-in]');
    await b.page.click('[data-test=stored-sign-in]');
    await b.page.waitForSelector('[data-test=post-form]');
    assert.equal(await b.page.getAttribute('[data-test=me]', 'title'), identityB);

    // A sees the reply (and B's vote) on the post's page.
    await a.page.click(`[data-test=post-title]:text("${marker.post}")`);
    await a.page.waitForSelector(`[data-test=comment-body]:text("${marker.reply}")`, {
      timeout: 60_000,
    });
    await a.page.waitForSelector('[data-test=post] [data-test=score]:text-is("1")', {
      timeout: 60_000,
    });
    await a.screenshot('04-a-sees-reply');

    // The other pages render cleanly too.
    await a.page.click('a.back');
    await a.page.click('[data-test=sort-top]');
    await a.page.waitForSelector('[data-test=sort-top].active');
    await a.page.click('a.new-community');
    await a.page.waitForSelector('[data-test=community-slug]');
    await a.screenshot('05-new-community');
    await a.page.click('[data-test=me]');
    await a.page.waitForSelector('[data-test=identity-text]');
    assert.equal(await a.page.inputValue('[data-test=identity-text]'), forumA.identity);
    await a.screenshot('06-settings');
    await a.page.click('[data-test=community-link][data-private=false] >> nth=0');

    // A makes a private copy of General: new table and reader keys; the history comes along.
    await a.page.waitForSelector('[data-test=fork]');
    await a.page.click('[data-test=fork]');
    await a.page.waitForSelector('[data-test=badge]:text("Private")');
    const privateSpace = a.page.url().split('#/c/')[1]!;
    assert.match(privateSpace, /^[0-9a-f]{32}$/);
    await a.page.waitForSelector(`[data-test=post-title]:text("${marker.post}")`);
    await a.page.fill('[data-test=post-title-input]', marker.secret);
    await a.page.click('[data-test=post-submit]');
    await a.page.waitForSelector(`[data-test=post-title]:text("${marker.secret}")`);

    // A invites a third identity, not B.
    const carol = generateIdentity();
    await a.page.fill('[data-test=invite-input]', identityText(carol));
    await a.page.click('[data-test=invite-submit]');
    await a.page.waitForSelector('[data-test=invited] li');
    await a.screenshot('07-a-private-copy');

    // The private community's entries reach node 2 too (sealed), so B's side could fetch them.
    const space = (await request(forumA.url, 'GET', `/api/spaces/${privateSpace}`)).body;
    const privateTable = space.table as string;
    await eventually(
      'the private entries to reach node 2',
      async () => {
        const answer = await fetch(`${url2}/get?table=${privateTable}&format=json&limit=1000`);
        const body = (await answer.json()) as { entries: unknown[] };
        return body.entries.length >= 4;
      },
      60_000,
    );

    // B does not see it: not in B's forum, and B's gateway holds no key to it.
    await b.page.click('[data-test=community-link][data-private=false] >> nth=0');
    await b.page.waitForSelector('[data-test=post-form]');
    await b.page.reload();
    await b.page.waitForSelector('[data-test=post-form]');
    const bSpaces = await b.page.$$eval('[data-test=community-link]', (links) =>
      links.map((l) => l.getAttribute('data-space')),
    );
    assert.ok(!bSpaces.includes(privateSpace));
    assert.equal(await b.page.$('[data-test=private-communities]'), null);
    assert.equal(await b.page.$('[data-test=invitation]'), null);
    await b.screenshot('08-b-no-private');
    const asB = await b.context.request.get(`${forumB.url}/forum/api/c/${privateSpace}`);
    assert.equal(asB.status(), 404);
    assert.equal(((await asB.json()) as { error: { code: string } }).error.code, 'no_such_space');
    const asGatewayB = await request(forumB.url, 'GET', `/api/spaces/${privateSpace}`);
    assert.equal((asGatewayB.body.error as { code: string }).code, 'no_such_space');

    // Not even with B's secret keys: nothing in the private table opens for them.
    const keyDir = join(dataB, 'keys', 'identities');
    const bSecrets = readdirSync(keyDir).map((f) =>
      parseIdentity(readFileSync(join(keyDir, f), 'utf8')),
    );
    assert.ok(bSecrets.some((k) => identityText(k) === identityB));
    const sealed = await new Client({ nodes: [url2] }).get({ tables: [privateTable], limit: 1000 });
    assert.ok(sealed.entries.length >= 4);
    for (const entry of sealed.entries) {
      for (const key of bSecrets) assert.equal(openEntry(entry.entry, key.box), undefined);
    }
    const indexB = readdirSync(dataB)
      .filter((f) => f.startsWith('index.sqlite'))
      .map((f) => readFileSync(join(dataB, f)).toString('latin1'))
      .join('');
    assert.ok(indexB.includes(marker.post), 'B’s index holds the public post it read');
    assert.ok(!indexB.includes(marker.secret), 'B’s index holds nothing of the private copy');

    // The nodes store sealed entries only: no plaintext of any kind on their disks.
    for (const node of [node1, node2]) {
      assert.ok(existsSync(join(node.dataDir, 'entries.sqlite')));
      const bytes = storedBytes(node.dataDir);
      for (const text of Object.values(marker)) assert.ok(!bytes.includes(text), text);
      assert.ok(!bytes.includes(run), 'no trace of the test run id in a node');
    }

    // The dashboard of node 1 shows the counts: all entries, and the private table's.
    const health = await eventually('the nodes to agree', async () => {
      const [h1, h2] = await Promise.all(
        [url1, url2].map(
          async (u) => (await (await fetch(`${u}/health`)).json()) as { entries: number },
        ),
      );
      return h1!.entries === h2!.entries ? h1 : undefined;
    });
    const privateCount = (
      (await (await fetch(`${url1}/get?table=${privateTable}&format=json&limit=1000`)).json()) as {
        entries: unknown[];
      }
    ).entries.length;
    await a.page.goto(`${url1}/ui`);
    await a.page.waitForSelector('[data-test=total-entries]');
    await a.page.waitForSelector(`[data-test=total-entries]:text-is("${health.entries}")`);
    const row = a.page.locator(`[data-test=tables] tr[data-table="${String(space.table)}"]`);
    assert.equal(
      await row.locator('[data-test=table-entries]').textContent(),
      String(privateCount),
    );
    await a.page.waitForSelector('[data-test=sync-rounds]:not(:text-is("0"))');
    await a.page.waitForSelector('[data-test=peer-count]:text-is("1 / 1")');
    await a.screenshot('09-dashboard');

    noErrors(a, b);
    await forumA.stop();
    await forumB.stop();
    await node1.stop();
    await node2.stop();
  },
);
