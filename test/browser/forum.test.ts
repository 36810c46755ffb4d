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
 *
 * Then two users on one gateway: Lena (an identity made in her browser) and Bob (a key file
 * added to the same gateway) each sign in; Lena makes a private copy and invites Bob, who sees
 * the invitation, joins and reads it. Along the way: the post count follows new posts, bodies
 * render as Markdown with no HTML getting through, and mistakes get messages that say what
 * was wrong (a mistyped identity, a bad or taken community name, a blank title).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { freePort } from '../helpers/http.js';
import { join } from 'node:path';
import { Client } from '../../src/client/client.js';
import { openEntry } from '../../src/entry/open.js';
import { generateIdentity, identityText, parseIdentity } from '../../src/keys/keys.js';
import { openBrowser, type BrowserUser } from '../helpers/browser.js';
import { eventually, newKeyFile, request, spawnForum } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

/** Every byte a node keeps on disk (database, WAL), as one latin1 string to search. */
function storedBytes(dataDir: string): string {
  return readdirSync(dataDir)
    .filter((name) => name.startsWith('entries.sqlite'))
    .map((name) => readFileSync(join(dataDir, name)).toString('latin1'))
    .join('');
}

/** No console or page errors, except the failed requests a test provoked on purpose. */
function noErrors(users: BrowserUser[], provoked: RegExp[] = []): void {
  assert.deepEqual(
    users.flatMap((u) => u.errors).filter((e) => !provoked.some((p) => p.test(e))),
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
    const forumArgs = (key: string) => [
      '--key',
      key,
      '--poll-interval',
      '0.5',
      '--log-level',
      'warn',
    ];
    const dataB = join(tempDir(), 'forum-b');
    const [forumA, forumB] = await Promise.all([
      spawnForum(url1, join(tempDir(), 'forum-a'), forumArgs(keyA.path)),
      spawnForum(url2, dataB, forumArgs((await newKeyFile()).path)),
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
    await b.page.waitForSelector(`[data-test=comment-body]:has-text("${marker.reply}")`);
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
    await a.page.waitForSelector(`[data-test=comment-body]:has-text("${marker.reply}")`, {
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

    // The copy's first epoch: its posts are sealed there (inviting starts a new epoch).
    const space = (await request(forumA.url, 'GET', `/api/spaces/${privateSpace}`)).body;
    const privateTable = space.table as string;

    // A invites a third identity, not B.
    const carol = generateIdentity();
    await a.page.fill('[data-test=invite-input]', identityText(carol));
    await a.page.click('[data-test=invite-submit]');
    await a.page.waitForSelector(`[data-test=member][data-member="${identityText(carol)}"]`);
    await a.screenshot('07-a-private-copy');

    // The private community's entries reach node 2 too (sealed), so B's side could fetch them.
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

    noErrors([a, b]);
    await forumA.stop();
    await forumB.stop();
    await node1.stop();
    await node2.stop();
  },
);

test(
  'two users on one gateway: an invitation arrives, Markdown renders, mistakes are explained',
  { timeout: 240_000 },
  async () => {
    const run = Date.now().toString(36);
    const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
    const forum = await spawnForum(node.url, join(tempDir(), 'forum'), [
      '--poll-interval',
      '0.5',
      '--log-level',
      'warn',
    ]);
    const bobKey = await newKeyFile();
    const bobText = identityText(bobKey.identity);
    const lena = await openBrowser('lena');
    const bob = await openBrowser('bob');

    // Lena makes her identity in the browser; Bob adds his key file to the same gateway.
    await lena.page.goto(`${forum.url}/`);
    await lena.page.click('[data-test=create-identity]');
    await lena.page.waitForSelector('[data-test=created-banner]');
    const lenaText = (await lena.page.getAttribute('[data-test=me]', 'title'))!;
    await bob.page.goto(`${forum.url}/`);
    await bob.page.setInputFiles('[data-test=key-file]', bobKey.path);
    await bob.page.click('[data-test=register-identity]');
    await bob.page.waitForSelector('[data-test=post-form]');
    assert.equal(await bob.page.getAttribute('[data-test=me]', 'title'), bobText);
    assert.notEqual(lenaText, bobText);

    // Lena posts Markdown in General; the header counts it at once, without a reload.
    await lena.page.waitForSelector('[data-test=post-form]');
    const before = Number(
      (await lena.page.textContent('[data-test=post-count]'))!.replace(/\D+/g, '') || 0,
    );
    const title = `Markdown ${run}`;
    await lena.page.fill('[data-test=post-title-input]', title);
    await lena.page.fill(
      '[data-test=post-body-input]',
      [
        'This is **red** and *soft*, with `code` and [a link](https://example.org/x).',
        '',
        '- one',
        '- two',
        '',
        '> quoted',
        '',
        '<img src=x onerror="window.pwned=1"> [bad](javascript:window.pwned=2)',
      ].join('\n'),
    );
    await lena.page.click('[data-test=post-submit]');
    await lena.page.waitForSelector(`[data-test=post-title]:text("${title}")`);
    await lena.page.waitForSelector(
      `[data-test=post-count]:text-is("${before + 1} post${before + 1 === 1 ? '' : 's'}")`,
    );
    await lena.page.click(`[data-test=post-title]:text("${title}")`);
    const body = lena.page.locator('[data-test=post-body]');
    await body.waitFor();
    assert.equal(await body.locator('strong').textContent(), 'red');
    assert.equal(await body.locator('em').textContent(), 'soft');
    assert.equal(await body.locator('code').textContent(), 'code');
    assert.equal(await body.locator('li').count(), 2);
    assert.equal(await body.locator('blockquote').textContent(), 'quoted');
    assert.deepEqual(
      await body.locator('a').evaluateAll((links) => links.map((a) => a.getAttribute('href'))),
      ['https://example.org/x'],
    );
    assert.equal(await body.locator('img, script, iframe').count(), 0);
    assert.match((await body.textContent())!, /<img src=x onerror=/);
    assert.match((await body.textContent())!, /\[bad\]\(javascript:window\.pwned=2\)/);
    assert.equal(
      await lena.page.evaluate(() => (globalThis as { pwned?: number }).pwned),
      undefined,
    );
    await lena.screenshot('10-markdown');

    // A blank title is refused with words that say so.
    await lena.page.click('a.back');
    await lena.page.waitForSelector('[data-test=post-form]');
    await lena.page.fill('[data-test=post-title-input]', '   ');
    await lena.page.click('[data-test=post-submit]');
    await lena.page.waitForSelector('[data-test=post-form] .form-error:text("title is required")');

    // A community name that is not allowed, or taken, is explained.
    await lena.page.click('a.new-community');
    await lena.page.fill('[data-test=community-slug]', 'Bad Name!');
    await lena.page.fill('[data-test=community-title]', 'Bad');
    await lena.page.click('form.stack button[type=submit]');
    const validation = await lena.page.$eval(
      '[data-test=community-slug]',
      (input) => (input as { validationMessage: string }).validationMessage,
    );
    assert.match(validation, /lowercase letters a–z, digits and -/);
    await lena.page.fill('[data-test=community-slug]', 'general');
    await lena.page.fill('[data-test=community-title]', 'Another General');
    await lena.page.click('form.stack button[type=submit]');
    await lena.page.waitForSelector('form.stack .form-error:text("exists already")');
    await lena.page.click('[data-test=existing]');
    await lena.page.waitForSelector('[data-test=community-name]:text-is("General")');

    // Lena makes a private copy; a mistyped identity gets a message about the checksum.
    await lena.page.click('[data-test=fork]');
    await lena.page.waitForSelector('[data-test=badge]:text("Private")');
    const privateSpace = lena.page.url().split('#/c/')[1]!;
    const typo = bobText.slice(0, 30) + (bobText[30] === 'q' ? 'p' : 'q') + bobText.slice(31);
    await lena.page.fill('[data-test=invite-input]', typo);
    await lena.page.click('[data-test=invite-submit]');
    await lena.page.waitForSelector('.invite .form-error:text("checksum does not match")');
    await lena.page.fill('[data-test=invite-input]', bobText);
    await lena.page.click('[data-test=invite-submit]');
    await lena.page.waitForSelector(`[data-test=member][data-member="${bobText}"]`);
    const secret = `Only for Bob ${run}`;
    await lena.page.fill('[data-test=post-title-input]', secret);
    await lena.page.click('[data-test=post-submit]');
    await lena.page.waitForSelector(`[data-test=post-title]:text("${secret}")`);

    // Bob, on the same gateway, sees the invitation, joins, and reads the private copy.
    await bob.page.waitForSelector('[data-test=invitation]', { timeout: 30_000 });
    await bob.screenshot('11-bob-invited');
    await bob.page.click('[data-test=accept-invitation]');
    await bob.page.waitForSelector('[data-test=badge]:text("Private")');
    assert.equal(bob.page.url().split('#/c/')[1], privateSpace);
    await bob.page.waitForSelector(`[data-test=post-title]:text("${secret}")`);
    await bob.screenshot('12-bob-joined');

    const refused = (status: number, path: string) =>
      new RegExp(`status of ${status} .*\\(http://127\\.0\\.0\\.1:\\d+${path}\\)$`);
    noErrors(
      [lena, bob],
      [
        refused(400, '/forum/api/c/[0-9a-f]{32}/posts'),
        refused(409, '/forum/api/communities'),
        refused(400, '/forum/api/c/[0-9a-f]{32}/invites'),
        // Bob's first try: the gateway does not hold his identity yet, so the page asks.
        refused(403, '/api/auth/login'),
      ],
    );
    await forum.stop();
    await node.stop();
  },
);
