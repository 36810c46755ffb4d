/**
 * The node dashboard's data (GET /stats) and pages (/ui), in-process over real HTTP: counts per
 * table, rejections by reason, activity, sync status, the security headers of the pages, and
 * the page itself in Chromium at desktop and phone widths.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrames, ENTRIES_MEDIA_TYPE } from '../../src/entry/framing.js';
import { decodeEntry } from '../../src/entry/format.js';
import { entryPowBits } from '../../src/entry/verify.js';
import { SyncPlugin } from '../../src/sync/plugin.js';
import { DashboardPlugin } from '../../src/ui/plugin.js';
import { makeEntry } from '../helpers/entries.js';
import { eventually } from '../helpers/gateways.js';
import { startTestNode } from '../helpers/nodes.js';
import { openBrowser, waitInPage } from '../helpers/browser.js';
import { generateIdentity, generateTableKey, tableText } from '../../src/keys/keys.js';
import { ComputePlugin } from '../../src/node/compute/plugin.js';
import {
  ECHO,
  jobInfo,
  LIMITS,
  newJob,
  SPIN,
  storeBlob,
  submit,
  TRAP,
  waitDone,
  waitRunning,
} from '../helpers/compute-jobs.js';

const sync = new SyncPlugin();
const node = await startTestNode({ min_pow_bits: 4, sync: { interval_seconds: 0.2 } }, [
  sync,
  new DashboardPlugin({ sync }),
]);

/** An entry whose proof of work is certainly below the node's minimum of 4 bits. */
function weakEntry(): Buffer {
  for (;;) {
    const { bytes } = makeEntry({ powBits: 0 });
    if (entryPowBits(decodeEntry(bytes)) < 4) return bytes;
  }
}

async function put(entries: Buffer[]): Promise<number> {
  const response = await fetch(`${node.url}/put`, {
    method: 'POST',
    headers: { 'content-type': ENTRIES_MEDIA_TYPE },
    body: encodeFrames(entries),
  });
  await response.body?.cancel();
  return response.status;
}

interface Stats {
  totals: { entries: number; bytes: number; tables: number };
  tables: { table: string; entries: number; bytes: number }[];
  rejected: { code: string; count: number }[];
  ingest: { stored: number; rejected: number };
  activity: { kind: string; text: string }[];
  sync: { enabled: boolean; rounds: number } | null;
  peers: unknown[];
  node: { min_pow_bits: number };
}

test('GET /stats counts entries and bytes per table, rejections by reason, and activity', async () => {
  const first = makeEntry({ powBits: 4 });
  const more = [1, 2].map(() => makeEntry({ table: first.table, powBits: 4 }));
  const other = makeEntry({ powBits: 4 });
  assert.equal(await put([first.bytes, ...more.map((m) => m.bytes), other.bytes]), 200);
  assert.equal(await put([weakEntry(), weakEntry()]), 422);
  const tampered = Buffer.from(makeEntry({ powBits: 4 }).bytes);
  tampered[tampered.length - 1]! ^= 1;
  await put([tampered]);

  const stats = await eventually('stats to show the entries', async () => {
    const answer = (await (await fetch(`${node.url}/stats`)).json()) as Stats;
    return answer.totals.entries === 4 && answer.ingest.rejected >= 2 ? answer : undefined;
  });
  assert.equal(stats.totals.tables, 2);
  const big = stats.tables.find((t) => t.table === tableText(first.table))!;
  assert.equal(big.entries, 3);
  assert.equal(big.bytes, first.bytes.length + more[0]!.bytes.length + more[1]!.bytes.length);
  assert.equal(stats.tables.find((t) => t.table === tableText(other.table))!.entries, 1);
  assert.equal(stats.tables[0]!.table, tableText(first.table));
  const rejected = Object.fromEntries(stats.rejected.map((r) => [r.code, r.count]));
  assert.equal(rejected.pow_too_low, 2);
  assert.ok(stats.activity.some((a) => a.kind === 'put' && a.text.includes('stored 4')));
  assert.ok(stats.activity.some((a) => a.kind === 'reject'));
  assert.equal(stats.node.min_pow_bits, 4);
  assert.equal(stats.sync?.enabled, true);
  assert.deepEqual(stats.peers, []);
  await eventually('a sync round to be counted', async () => {
    const answer = (await (await fetch(`${node.url}/stats`)).json()) as Stats;
    return (answer.sync?.rounds ?? 0) > 0;
  });
  // Nothing secret or sealed appears: no payloads, only public keys and counters.
  const text = await (await fetch(`${node.url}/stats`)).text();
  assert.ok(!text.includes(first.bytes.toString('base64').slice(0, 40)));
});

test('the dashboard pages are served with a strict content security policy', async () => {
  for (const path of ['/ui', '/ui/', '/ui/index.html']) {
    const page = await fetch(`${node.url}${path}`);
    assert.equal(page.status, 200, path);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.match(await page.text(), /p2pcloud node/);
  }
  const script = await fetch(`${node.url}/ui/dashboard.js`);
  assert.match(script.headers.get('content-type') ?? '', /^text\/javascript/);
  const etag = script.headers.get('etag')!;
  await script.text();
  const again = await fetch(`${node.url}/ui/dashboard.js`, { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  const missing = await fetch(`${node.url}/ui/../package.json`);
  assert.equal(missing.status, 404);
  const nothing = await fetch(`${node.url}/ui/nothing.js`);
  assert.equal(nothing.status, 404);
  assert.equal(((await nothing.json()) as { error: { code: string } }).error.code, 'not_found');
});

/** What the page looks like, measured in the browser: overflow, clipped cells and rows, wraps. */
interface Layout {
  pageOverflow: number;
  clippedCells: string[];
  scrolledPanels: string[];
  activityRows: number;
  cutRows: string[];
  wrappedTimes: string[];
}

/** Runs in the page (plain JavaScript: the tests compile without the DOM's types). */
const MEASURE = `(() => {
  const out = (inner, outer) =>
    inner.left < outer.left - 0.5 || inner.right > outer.right + 0.5 ||
    inner.top < outer.top - 0.5 || inner.bottom > outer.bottom + 0.5;
  const panels = [...document.querySelectorAll('.panel')];
  const clippedCells = [];
  for (const panel of panels) {
    const box = panel.getBoundingClientRect();
    for (const cell of panel.querySelectorAll('th, td')) {
      if (cell.offsetParent !== null && out(cell.getBoundingClientRect(), box))
        clippedCells.push(cell.textContent);
    }
  }
  const list = document.getElementById('activity');
  const listBox = list.getBoundingClientRect();
  const panelBox = list.closest('.panel').getBoundingClientRect();
  const rows = [...list.children];
  // Lines a text occupies: the distinct line boxes of its text (labels drawn by CSS not counted).
  const lines = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].map((r) => Math.round(r.bottom))).size;
  };
  const timed = [
    ...document.querySelectorAll('.time, .round-head > span:not(.muted)'),
    ...document.querySelectorAll('[data-test="tables"] td.num'),
    ...document.querySelectorAll('[data-test="peers"] td.num'),
  ];
  return {
    pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    clippedCells,
    scrolledPanels: panels
      .filter((p) => p.scrollWidth > p.clientWidth + 1 || p.scrollHeight > p.clientHeight + 1)
      .map((p) => p.querySelector('h2').textContent),
    activityRows: rows.length,
    cutRows: rows
      .filter((row) => out(row.getBoundingClientRect(), listBox) || out(row.getBoundingClientRect(), panelBox))
      .map((row) => row.textContent),
    wrappedTimes: timed.filter((el) => lines(el) > 1).map((el) => el.textContent),
  };
})()`;

test('the dashboard in Chromium: plurals, "since start", whole rows, no clipping at 420 px', async () => {
  // A peer (a second node that introduces itself), one table with a single entry, more activity
  // than the page shows, and a rejection.
  const peer = await startTestNode({ peers: [node.url], sync: { interval_seconds: 0.2 } }, [
    new SyncPlugin(),
  ]);
  const single = makeEntry({ powBits: 4, text: 'one' });
  assert.equal(await put([single.bytes]), 200);
  for (let i = 0; i < 14; i += 1) assert.equal(await put([makeEntry({ powBits: 4 }).bytes]), 200);
  assert.equal(await put([weakEntry()]), 422);
  await eventually('the peer to be known', async () => {
    const answer = (await (await fetch(`${node.url}/stats`)).json()) as Stats;
    return answer.peers.length > 0;
  });

  const user = await openBrowser('dashboard');
  const { page } = user;
  for (const width of [1280, 420]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${node.url}/ui`);
    await waitInPage(
      page,
      `document.querySelectorAll('[data-test="peers"] tbody tr td code').length > 0`,
    );
    const text = await page.locator('main').innerText();
    assert.match(text, /stored 1 entry\b/);
    assert.doesNotMatch(text, /\b1 (entries|tables|peers|duplicates)\b/);
    assert.match(text, /in \d+ tables/);
    assert.match(await page.locator('#traffic-sub').innerText(), /^since start \(/);
    assert.match(await page.locator('#rejected-sub').innerText(), /since start/);
    assert.match(text, /REJECTED\s+\d+\s+since start/i);
    assert.match(await page.locator('#activity-sub').innerText(), /^latest 12 of \d+$/);
    const layout = (await page.evaluate(MEASURE)) as Layout;
    await user.screenshot(`dashboard-${width}`);
    assert.equal(layout.pageOverflow, 0, `the page scrolls sideways at ${width} px`);
    assert.deepEqual(layout.clippedCells, [], `cells outside their panel at ${width} px`);
    assert.deepEqual(layout.scrolledPanels, [], `panels that scroll at ${width} px`);
    assert.equal(layout.activityRows, 12);
    assert.deepEqual(layout.cutRows, [], `activity rows cut at ${width} px`);
    assert.deepEqual(layout.wrappedTimes, [], `times on two lines at ${width} px`);
  }
  assert.deepEqual(user.errors, []);
  await peer.close();
});

test('the dashboard in Chromium: the jobs panel shows running and recent jobs, none of their secrets', async () => {
  const computeNode = await startTestNode(
    // The spinning job must outlast the browser's start and two page loads on a loaded machine.
    {
      compute: {
        enabled: true,
        workers: 2,
        max: { fuel: Number.MAX_SAFE_INTEGER, wall_ms: 600_000 },
      },
    },
    [new DashboardPlugin(), new ComputePlugin()],
  );
  const info = await jobInfo(computeNode.url);
  const owner = { identity: generateIdentity(), table: generateTableKey() };
  const echo = await storeBlob(computeNode.url, ECHO, owner);
  const trap = await storeBlob(computeNode.url, TRAP, owner);
  const spin = await storeBlob(computeNode.url, SPIN, owner);
  const input = await storeBlob(computeNode.url, Buffer.from('private words'), owner);
  const ok = newJob(info, owner.identity, echo, [input]);
  const trapped = newJob(info, owner.identity, trap, []);
  for (const job of [ok, trapped]) {
    assert.equal((await submit(computeNode.url, job.request)).status, 202);
    await waitDone(computeNode.url, job.body.id);
  }
  const running = newJob(info, owner.identity, spin, [], {
    limits: { ...LIMITS, fuel: Number.MAX_SAFE_INTEGER, wall_ms: 600_000 },
  });
  assert.equal((await submit(computeNode.url, running.request)).status, 202);
  await waitRunning(computeNode.url, running.body.id);

  const user = await openBrowser('dashboard-jobs');
  const { page } = user;
  for (const width of [1280, 420]) {
    await page.setViewportSize({ width, height: 900 });
    await page.goto(`${computeNode.url}/ui`);
    await waitInPage(
      page,
      `document.querySelectorAll('[data-test="jobs"] tbody tr[data-job]').length === 3`,
    );
    const row = (id: string) => page.locator(`tr[data-job="${id}"]`).innerText();
    assert.match(await row(ok.body.id), /done[\s\S]*\bok\b/);
    assert.match(await row(trapped.body.id), /done[\s\S]*\btrap\b/);
    assert.match(await row(running.body.id), /running/);
    assert.match(
      await page.locator('#jobs-sub').innerText(),
      /^1 running · 0 waiting · 2 done · 0 failed · 2 workers$/,
    );
    const panel = await page.locator('#jobs-panel').innerText();
    assert.doesNotMatch(panel, /private words/);
    for (const key of [...echo.keys, ...input.keys]) {
      assert.ok(!panel.includes(key.key.toString('hex').slice(0, 12)));
    }
    const layout = (await page.evaluate(MEASURE)) as Layout;
    await user.screenshot(`dashboard-jobs-${width}`);
    assert.equal(layout.pageOverflow, 0, `the page scrolls sideways at ${width} px`);
    assert.deepEqual(layout.clippedCells, [], `cells outside their panel at ${width} px`);
    assert.deepEqual(layout.scrolledPanels, [], `panels that scroll at ${width} px`);
  }
  // A node that runs no jobs shows no jobs panel, and asks nothing of /jobs.
  const asked: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/jobs') asked.push(r.url());
  });
  await page.goto(`${node.url}/ui`);
  await waitInPage(page, `document.getElementById('updated').textContent.startsWith('live')`);
  assert.equal(await page.locator('#jobs-panel').isHidden(), true);
  assert.deepEqual(asked, []);
  assert.deepEqual(user.errors, []);
  await computeNode.close();
});
