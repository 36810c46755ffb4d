/**
 * A drive through a real gateway process on a real node: files go in and come back byte for
 * byte, ranges read only what they ask, an unchanged upload sends nothing and a one-byte edit
 * little, versions stay readable, names that differ only by case or normalisation are one
 * file, moves and deletes work, bad paths and broken uploads are refused with stable codes.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { ok } from '../helpers/identity.js';
import { startDevice } from '../helpers/identity.js';
import { spawnNode } from '../helpers/nodes.js';
import { request } from '../helpers/gateways.js';
import { breakUpload, getFile, putFile, testBytes } from '../helpers/files.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

test('a drive stores, reads, dedups, versions, moves and refuses bad input', async () => {
  const node = await spawnNode(['--min-pow', '0', '--sync-interval', '3600']);
  const a = await startDevice(node.url);
  const group = (await ok(a.url, 'POST', '/api/groups', { name: 'drive' }, 201)).id as string;

  // 3 MB of random bytes: about a hundred chunks.
  const original = testBytes(3_000_000);
  const put = await putFile(
    a.url,
    group,
    'docs/Report.bin',
    original,
    '&media_type=application%2Foctet-stream',
  );
  assert.equal(put.status, 201, JSON.stringify(put.body));
  const file = put.body.file as Record<string, unknown>;
  assert.equal(file.size, original.length);
  assert.equal(file.sha256, sha(original));
  const sent = put.body.sent as { chunks: number; bytes: number };
  assert.ok(sent.chunks > 40, `chunks sent: ${sent.chunks}`);
  assert.equal(sent.bytes, original.length);

  const back = await getFile(a.url, group, 'docs/Report.bin');
  assert.equal(back.status, 200);
  assert.equal(back.headers.get('content-length'), String(original.length));
  assert.equal(back.headers.get('etag'), `"${sha(original)}"`);
  assert.ok(back.bytes.equals(original), 'the file reads back byte for byte');
  assert.match(back.headers.get('content-security-policy') ?? '', /sandbox/);

  // Ranges: a middle range, a suffix, an open end; one past the end is refused.
  const middle = await getFile(a.url, group, 'docs/Report.bin', { range: 'bytes=1000000-1999999' });
  assert.equal(middle.status, 206);
  assert.equal(middle.headers.get('content-range'), `bytes 1000000-1999999/${original.length}`);
  assert.ok(middle.bytes.equals(original.subarray(1_000_000, 2_000_000)));
  const suffix = await getFile(a.url, group, 'docs/Report.bin', { range: 'bytes=-10' });
  assert.ok(suffix.bytes.equals(original.subarray(original.length - 10)));
  const tail = await getFile(a.url, group, 'docs/Report.bin', { range: 'bytes=2999990-' });
  assert.ok(tail.bytes.equals(original.subarray(2_999_990)));
  const past = await getFile(a.url, group, 'docs/Report.bin', {
    range: `bytes=${original.length}-`,
  });
  assert.equal(past.status, 416);
  assert.equal(JSON.parse(past.bytes.toString()).error.code, 'bad_range');

  // The same bytes again send no chunk and write no new version.
  const again = await putFile(
    a.url,
    group,
    'docs/Report.bin',
    original,
    '&media_type=application%2Foctet-stream',
  );
  assert.equal((again.body.sent as { chunks: number }).chunks, 0);
  assert.equal((again.body.file as { version: string }).version, file.version);

  // One byte changed in the middle: a chunk or two, not the file.
  const edited = Buffer.from(original);
  edited[1_500_000] = edited[1_500_000]! ^ 0xff;
  const edit = await putFile(a.url, group, 'docs/Report.bin', edited);
  const editSent = edit.body.sent as { chunks: number; bytes: number };
  assert.ok(editSent.chunks <= 3 && editSent.bytes < 200_000, JSON.stringify(editSent));
  const stat = await ok(a.url, 'GET', `/api/spaces/${group}/files/stat?path=docs%2FReport.bin`);
  const versions = stat.versions as { version: string }[];
  assert.equal(versions.length, 1);
  assert.equal(versions[0]!.version, file.version);
  const old = await getFile(
    a.url,
    group,
    'docs/Report.bin',
    {},
    `&version=${String(file.version)}`,
  );
  assert.ok(old.bytes.equals(original), 'the earlier version reads back');
  assert.ok((await getFile(a.url, group, 'docs/Report.bin')).bytes.equals(edited));

  // Another spelling of the name is the same file, and keeps the first spelling.
  const small = Buffer.from('small now');
  const respelled = await putFile(a.url, group, 'DOCS/report.BIN', small);
  assert.equal((respelled.body.file as { path: string }).path, 'docs/Report.bin');
  const cafe = await putFile(a.url, group, 'cafe\u0301.txt', Buffer.from('composed?'));
  assert.equal((cafe.body.file as { path: string }).path, 'café.txt');
  assert.equal((await getFile(a.url, group, 'café.txt')).bytes.toString(), 'composed?');

  // A file of about 650 chunks: its manifest has pages.
  const large = testBytes(20_000_000);
  const largePut = await putFile(a.url, group, 'big/large.bin', large);
  assert.equal(largePut.status, 201);
  const largeBack = await getFile(a.url, group, 'big/large.bin');
  assert.equal(sha(largeBack.bytes), sha(large));
  const largeRange = await getFile(a.url, group, 'big/large.bin', {
    range: 'bytes=15000000-15100000',
  });
  assert.ok(largeRange.bytes.equals(large.subarray(15_000_000, 15_100_001)));
  // An empty file.
  assert.equal((await putFile(a.url, group, 'empty', Buffer.alloc(0))).status, 201);
  assert.equal((await getFile(a.url, group, 'empty')).bytes.length, 0);

  const root = await ok(a.url, 'GET', `/api/spaces/${group}/files/list`);
  assert.deepEqual((root.folders as { name: string }[]).map((f) => f.name).sort(), ['big', 'docs']);
  assert.deepEqual((root.files as { name: string }[]).map((f) => f.name).sort(), [
    'café.txt',
    'empty',
  ]);
  const first = await ok(a.url, 'GET', `/api/spaces/${group}/files/list?limit=1`);
  assert.equal((first.files as unknown[]).length, 1);
  assert.equal(first.more, true);
  const all = await ok(a.url, 'GET', `/api/spaces/${group}/files/list?recursive=1`);
  assert.equal((all.files as unknown[]).length, 4);

  // One name is a file or a folder, never both.
  const underFile = await putFile(a.url, group, 'empty/inside.txt', Buffer.from('x'));
  assert.equal(underFile.status, 409);
  assert.equal((underFile.body.error as { code: string }).code, 'file_exists');
  const onFolder = await putFile(a.url, group, 'BIG', Buffer.from('x'));
  assert.equal(onFolder.status, 409);
  const moveOnFolder = await request(a.url, 'POST', `/api/spaces/${group}/files/move`, {
    from: 'empty',
    to: 'big',
  });
  assert.equal(moveOnFolder.status, 409);

  // Move a folder, then delete what it held.
  const moved = await ok(a.url, 'POST', `/api/spaces/${group}/files/move`, {
    from: 'docs',
    to: 'archive/2026',
  });
  assert.equal(moved.moved, 1);
  assert.equal((await getFile(a.url, group, 'docs/Report.bin')).status, 404);
  assert.equal(
    (await getFile(a.url, group, 'archive/2026/Report.bin')).bytes.toString(),
    'small now',
  );
  const taken = await request(a.url, 'POST', `/api/spaces/${group}/files/move`, {
    from: 'empty',
    to: 'CAFÉ.txt',
  });
  assert.equal(taken.status, 409);
  await ok(a.url, 'DELETE', `/api/spaces/${group}/files/content?path=archive%2F2026%2FReport.bin`);
  const gone = await request(
    a.url,
    'GET',
    `/api/spaces/${group}/files/stat?path=archive%2F2026%2FReport.bin`,
  );
  assert.equal(gone.status, 404);
  assert.equal((gone.body.error as { code: string }).code, 'no_such_file');

  // Bad paths.
  for (const bad of ['../x', '/etc/passwd', 'a//b', 'a/./b', 'back\\slash']) {
    const answer = await putFile(a.url, group, bad, Buffer.from('x'));
    assert.equal(answer.status, 400, bad);
    assert.equal((answer.body.error as { code: string }).code, 'bad_path', bad);
  }

  // An upload that breaks off leaves the tree as it was, and the gateway serves on.
  await breakUpload(a.url, group, 'broken.bin', 5_000_000, testBytes(1_000_000));
  const broken = await request(a.url, 'GET', `/api/spaces/${group}/files/stat?path=broken.bin`);
  assert.equal(broken.status, 404);
  // A body shorter than its Content-Length is refused by the HTTP layer or as upload_truncated.
  assert.equal((await getFile(a.url, group, 'café.txt')).status, 200);
});
