/**
 * Members of a private community, end to end: a node and two forum servers as child processes
 * (`p2pcloud app forum`, each with its owner's key), and two users in headless Chromium.
 *
 * The owner makes a private copy of General and invites the member, who joins in the browser
 * and reads a post. In the Members panel the owner makes the member a reader (whose page then
 * has no composer), then removes them, and posts again. The member's open page then says they
 * were removed, by itself and after a reload, the community leaves their list, and the post
 * written after the removal appears nowhere: not on the page, not in their gateway's answers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { identityText } from '../../src/keys/keys.js';
import { openBrowser, type BrowserUser } from '../helpers/browser.js';
import { eventually, newKeyFile, request, spawnForum } from '../helpers/gateways.js';
import { spawnNode } from '../helpers/nodes.js';
import { tempDir } from '../helpers/tmp.js';

async function signIn(user: BrowserUser, url: string, keyFile: string): Promise<void> {
  await user.page.goto(`${url}/`);
  await user.page.waitForSelector('[data-test=login]');
  await user.page.setInputFiles('[data-test=key-file]', keyFile);
  await user.page.waitForSelector('[data-test=post-form]');
}

test(
  'the owner removes a member in the Members panel; the member reads nothing written after',
  { timeout: 240_000 },
  async () => {
    const run = Date.now().toString(36);
    const before = `Before the removal ${run}`;
    const afterwards = `After the removal ${run}`;
    const node = await spawnNode(['--min-pow', '8', '--log-level', 'warn']);
    const args = (key: string) => ['--key', key, '--poll-interval', '0.5', '--log-level', 'warn'];
    const [ownerKey, memberKey] = [await newKeyFile(), await newKeyFile()];
    const memberText = identityText(memberKey.identity);
    const [ownerForum, memberForum] = await Promise.all([
      spawnForum(node.url, join(tempDir(), 'forum-owner'), args(ownerKey.path)),
      spawnForum(node.url, join(tempDir(), 'forum-member'), args(memberKey.path)),
    ]);
    const owner = await openBrowser('owner');
    const member = await openBrowser('member');
    await signIn(owner, ownerForum.url, ownerKey.path);
    await signIn(member, memberForum.url, memberKey.path);

    // The owner makes a private copy, sees themself as its owner, and posts in it.
    await owner.page.click('[data-test=fork]');
    await owner.page.waitForSelector('[data-test=badge]:text("Private")');
    const space = owner.page.url().split('#/c/')[1]!;
    assert.match(space, /^[0-9a-f]{32}$/);
    const self = owner.page.locator('[data-test=member]');
    await self.first().waitFor();
    assert.equal(await self.count(), 1);
    assert.equal(await self.first().getAttribute('data-role'), 'owner');
    assert.equal(await self.first().getAttribute('data-member'), identityText(ownerKey.identity));
    await owner.page.fill('[data-test=post-title-input]', before);
    await owner.page.click('[data-test=post-submit]');
    await owner.page.waitForSelector(`[data-test=post-title]:text("${before}")`);

    // The owner invites the member, who appears in the panel as a writer.
    await owner.page.fill('[data-test=invite-input]', memberText);
    await owner.page.click('[data-test=invite-submit]');
    const row = owner.page.locator(`[data-test=member][data-member="${memberText}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-role'), 'writer');

    // The member joins in the browser and reads the post. Only the owner manages members.
    await member.page.waitForSelector('[data-test=invitation]', { timeout: 60_000 });
    await member.page.click('[data-test=accept-invitation]');
    await member.page.waitForSelector('[data-test=badge]:text("Private")');
    assert.equal(member.page.url().split('#/c/')[1], space);
    await member.page.waitForSelector(`[data-test=post-title]:text("${before}")`);
    await member.page.waitForSelector('[data-test=member] >> nth=1');
    assert.equal(await member.page.locator('[data-test=remove-member]').count(), 0);
    assert.equal(await member.page.locator('[data-test=invite-input]').count(), 0);
    await member.screenshot('20-member-joined');

    // The owner makes the member a reader, then removes them (two clicks: Remove, Confirm).
    await row.locator('[data-test=member-role]').selectOption('reader');
    await owner.page.waitForSelector(
      `[data-test=member][data-member="${memberText}"][data-role=reader]`,
    );
    await owner.screenshot('21-owner-members');
    // The member's forum learns the new role from the group's log: no composer for a reader.
    await eventually(
      'the member’s page to show the reader role',
      async () => {
        await request(memberForum.url, 'POST', '/api/refresh', {});
        await member.page.reload();
        await member.page.waitForSelector(`[data-test=member][data-member="${memberText}"]`);
        return (await member.page.$('[data-test=read-only]')) !== null;
      },
      60_000,
      500,
    );
    assert.equal(await member.page.$('[data-test=post-form]'), null);
    assert.equal(
      await member.page.textContent(
        `[data-test=member][data-member="${memberText}"] [data-test=member-role-label]`,
      ),
      'Reader',
    );
    await member.page.waitForSelector(`[data-test=post-title]:text("${before}")`);
    await row.locator('[data-test=remove-member]').click();
    await owner.page.waitForSelector('[data-test=remove-member].armed:text("Confirm removal")');
    await owner.page.click('[data-test=remove-member].armed');
    await owner.page.waitForSelector(`[data-test=member][data-member="${memberText}"]`, {
      state: 'detached',
    });
    assert.equal(await owner.page.locator('[data-test=member]').count(), 1);

    // The owner posts again: sealed to keys the member's gateway never receives.
    await owner.page.fill('[data-test=post-title-input]', afterwards);
    await owner.page.click('[data-test=post-submit]');
    await owner.page.waitForSelector(`[data-test=post-title]:text("${afterwards}")`);
    await owner.screenshot('22-owner-after-removal');

    // The member's page, left open on the community, turns into a notice of the removal once
    // their gateway has read it (the feed refreshes every 3 s); it never shows the new post.
    assert.equal(member.page.url().split('#/c/')[1], space);
    await eventually(
      'the member’s open page to show the removal',
      async () => {
        await request(memberForum.url, 'POST', '/api/refresh', {});
        assert.ok(!(await member.page.content()).includes(afterwards));
        return (await member.page.$('[data-test=route-error][data-removed=true]')) !== null;
      },
      60_000,
      500,
    );
    assert.match(
      (await member.page.textContent('[data-test=route-error] h2'))!,
      /You were removed/,
    );
    // The sidebar drops it at its next refresh (every 5 s).
    await member.page.waitForSelector(`[data-test=community-link][data-space="${space}"]`, {
      state: 'detached',
      timeout: 15_000,
    });
    await member.screenshot('23-member-removed');

    // Nothing of the new post through the member's gateway either, after one more poll round.
    await request(memberForum.url, 'POST', '/api/refresh', {});
    const posts = await member.context.request.get(`${memberForum.url}/forum/api/c/${space}/posts`);
    assert.equal(posts.status(), 404);
    const error = ((await posts.json()) as { error: { code: string; removed: boolean } }).error;
    assert.deepEqual([error.code, error.removed], ['no_such_space', true]);
    const all = await member.context.request.get(`${memberForum.url}/forum/api/communities`);
    assert.ok(!(await all.text()).includes(space));
    await member.page.reload();
    await member.page.waitForSelector('[data-test=route-error][data-removed=true]');
    assert.ok(!(await member.page.content()).includes(afterwards));

    // Every page rendered cleanly, apart from the refusals that announced the removal.
    const refused = /status of 404 .*\/forum\/api\/c\/[0-9a-f]{32}(\/posts.*)?\)$/;
    assert.deepEqual(
      [...owner.errors, ...member.errors].filter((e) => !refused.test(e)),
      [],
    );
    assert.deepEqual(owner.errors, []);
    await ownerForum.stop();
    await memberForum.stop();
    await node.stop();
  },
);
