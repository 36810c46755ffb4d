/**
 * A group's drive as the command line reaches it: the routes of docs/gateway.md §15 on a
 * running gateway. Contents stream both ways (a file is never held whole in memory); the tree
 * calls are JSON. The gateway's answers are checked for the members used, since a wrong answer
 * must not make the sync delete or overwrite anything.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { endpoint } from '../../client/http.js';
import { P2PError } from '../../errors.js';
import type { FileView, ListAnswer, PutAnswer } from '../../gateway/files/drive.js';
import { gatewayFailure, type GatewayClient } from '../gateway-client.js';

// The answers' shapes are the gateway's own (docs/gateway.md §15).
export type { FileView, FolderView, ListAnswer, PutAnswer } from '../../gateway/files/drive.js';

export interface StatAnswer {
  readonly file: FileView;
  readonly versions: FileView[];
  readonly conflicts: FileView[];
}

/** Most files one listing page asks for (the gateway's own limit). */
const LIST_PAGE = 10_000;
/** Most bytes of a JSON answer to an upload read. */
const MAX_JSON_ANSWER = 1024 * 1024;
/** An upload or download that moves no byte for this long is given up. */
const IDLE_MS = 120_000;
/** Most times a request refused for the rate limit is asked again. */
const MAX_RETRIES = 60;

const HEX64 = /^[0-9a-f]{64}$/;

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/** Checks what the sync relies on in a file view: a gateway's slip must not cost a file. */
export function checkFileView(value: unknown): FileView {
  const v = (value ?? {}) as Record<string, unknown>;
  if (
    typeof v.path !== 'string' ||
    !isCount(v.size) ||
    typeof v.sha256 !== 'string' ||
    !HEX64.test(v.sha256) ||
    typeof v.version !== 'string' ||
    !HEX64.test(v.version) ||
    typeof v.modified !== 'number' ||
    (v.conflicts !== undefined && !isCount(v.conflicts))
  ) {
    throw new P2PError('node_error', 'the gateway described a file in a form not as specified');
  }
  return value as FileView;
}

function q(value: string): string {
  return encodeURIComponent(value);
}

/** Counts the bytes that pass and reports them. */
function counter(onBytes: (n: number) => void): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      onBytes(chunk.length);
      done(null, chunk);
    },
  });
}

/** A file that was not as expected when the last of its bytes was to be sent. */
export class ChangedWhileSent extends P2PError {
  constructor(fsPath: string) {
    super('bad_argument', `${fsPath} changed while it was sent: try again`);
  }
}

/** The options of an upload from a file. */
export interface UploadOptions {
  readonly modified?: number;
  readonly mediaType?: string;
  readonly onBytes?: (n: number) => void;
  /**
   * Called with the SHA-256 of the bytes read once all of them are, before the last of them is
   * sent: if it answers false the upload is cut, and the drive commits nothing.
   */
  readonly beforeEnd?: (sha256: string) => Promise<boolean>;
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

/**
 * Whether the file at `fsPath` may complete an upload of its first `size` bytes: it is still
 * that long (a file that grew since its size was taken would go up cut short), and the
 * caller's check, if any, agrees.
 */
async function mayEnd(
  fsPath: string,
  size: number,
  sha256: string,
  options: UploadOptions,
): Promise<boolean> {
  const now = await lstat(fsPath).catch(() => undefined);
  if (now?.size !== size) return false;
  return options.beforeEnd ? options.beforeEnd(sha256) : true;
}

/**
 * Passes the bytes of an upload on, holding back the chunk that completes `size` until
 * `mayEnd` agrees: the gateway commits a file only once it has every byte announced, so a
 * refusal here leaves the drive as it was.
 */
function lastByteGate(
  size: number,
  mayEnd: (sha256: string) => Promise<boolean>,
  changed: () => Error,
): Transform {
  const hash = createHash('sha256');
  let read = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      read += chunk.length;
      if (read < size) return done(null, chunk);
      mayEnd(hash.digest('hex')).then(
        (yes) => (yes ? done(null, chunk) : done(changed())),
        (error: Error) => done(error),
      );
    },
  });
}

async function readBody(response: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      response.destroy();
      throw new P2PError('node_error', 'the gateway sent a longer answer than expected');
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export class Drive {
  private readonly base: string;

  constructor(
    private readonly gateway: GatewayClient,
    readonly space: string,
  ) {
    this.base = `/api/spaces/${space}/files`;
  }

  async list(
    folder: string,
    options: { recursive?: boolean; after?: string; limit?: number } = {},
  ): Promise<ListAnswer> {
    const parts = [`folder=${q(folder)}`];
    if (options.recursive) parts.push('recursive=1');
    parts.push(`limit=${options.limit ?? LIST_PAGE}`);
    if (options.after !== undefined) parts.push(`after=${q(options.after)}`);
    const answer = await this.retrying(() =>
      this.gateway.call<ListAnswer>('GET', `${this.base}/list?${parts.join('&')}`),
    );
    if (!Array.isArray(answer.files) || !Array.isArray(answer.folders)) {
      throw new P2PError('node_error', 'the gateway answered a listing not as specified');
    }
    answer.files.forEach(checkFileView);
    return answer;
  }

  /** Every file under `folder`, page after page. */
  async listAll(folder = ''): Promise<FileView[]> {
    const files: FileView[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.list(folder, {
        recursive: true,
        ...(after !== undefined ? { after } : {}),
      });
      files.push(...page.files);
      if (!page.more) return files;
      if (typeof page.after !== 'string' || page.after === after || page.files.length === 0) {
        throw new P2PError('node_error', 'the gateway paged a listing without moving on');
      }
      after = page.after;
    }
  }

  async stat(path: string): Promise<StatAnswer> {
    const answer = await this.retrying(() =>
      this.gateway.call<StatAnswer>('GET', `${this.base}/stat?path=${q(path)}`),
    );
    checkFileView(answer.file);
    if (!Array.isArray(answer.versions) || !Array.isArray(answer.conflicts)) {
      throw new P2PError('node_error', 'the gateway answered a stat not as specified');
    }
    answer.conflicts.forEach(checkFileView);
    return answer;
  }

  async remove(path: string): Promise<{ deleted: string }> {
    return this.retrying(() => this.gateway.call('DELETE', `${this.base}/content?path=${q(path)}`));
  }

  async move(from: string, to: string): Promise<{ moved: number }> {
    return this.retrying(() => this.gateway.call('POST', `${this.base}/move`, { from, to }));
  }

  async share(
    folder: string,
    member: string,
    role: string,
  ): Promise<{ space: string; files: number }> {
    return this.gateway.call('POST', `${this.base}/share`, { folder, member, role });
  }

  /**
   * Calls `fn` again while the gateway answers 429 (its per-address limit, which a folder of
   * many files reaches), after the wait it names; at most MAX_RETRIES times.
   */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        if (
          !(error instanceof P2PError) ||
          error.code !== 'rate_limited' ||
          attempt >= MAX_RETRIES
        ) {
          throw error;
        }
        const named = /retry in (\d+) second/.exec(error.message);
        const seconds = Math.min(60, Math.max(1, named ? Number(named[1]) : 1));
        await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
      }
    }
  }

  private send(
    method: 'GET' | 'PUT',
    path: string,
    headers: Record<string, string | number>,
  ): { req: ReturnType<typeof httpRequest>; answer: Promise<IncomingMessage> } {
    const target = new URL(endpoint(this.gateway.url, path));
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, {
      method,
      headers: { ...this.gateway.authorization(), ...headers },
      timeout: IDLE_MS,
    });
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', (error) => reject(this.gateway.unreachable(error)));
      req.once('timeout', () => {
        req.destroy(new Error('timed out'));
      });
    });
    return { req, answer };
  }

  /**
   * Uploads `size` bytes of the file at `fsPath` to `path`. A file that shrinks or grows while
   * it is read is caught (fewer bytes than announced, or a length other than `size` once they
   * are read), and so is one `options.beforeEnd` refuses: the upload is cut before its last
   * byte, so the drive keeps its old version.
   */
  async upload(
    path: string,
    fsPath: string,
    size: number,
    options: UploadOptions = {},
  ): Promise<PutAnswer> {
    let sent = 0;
    return this.retrying(() => {
      // A retried upload starts again: what the bar showed of the refused one is taken back.
      options.onBytes?.(-sent);
      sent = 0;
      return this.uploadOnce(path, fsPath, size, {
        ...options,
        onBytes: (n) => {
          sent += n;
          options.onBytes?.(n);
        },
      });
    });
  }

  private async uploadOnce(
    path: string,
    fsPath: string,
    size: number,
    options: UploadOptions = {},
  ): Promise<PutAnswer> {
    const changed = (): P2PError => new ChangedWhileSent(fsPath);
    // An empty body is complete as soon as the request is: its check comes before.
    if (size === 0 && !(await mayEnd(fsPath, 0, EMPTY_SHA256, options))) throw changed();
    const query = [`path=${q(path)}`];
    if (options.modified !== undefined)
      query.push(`modified=${Math.max(0, Math.floor(options.modified))}`);
    if (options.mediaType !== undefined) query.push(`media_type=${q(options.mediaType)}`);
    const { req, answer } = this.send('PUT', `${this.base}/content?${query.join('&')}`, {
      'content-type': 'application/octet-stream',
      'content-length': size,
    });
    let sent = 0;
    const body = (async () => {
      const source =
        size === 0
          ? []
          : createReadStream(fsPath, { start: 0, end: size - 1, highWaterMark: 1 << 20 });
      await pipeline(
        source,
        lastByteGate(size, (sha256) => mayEnd(fsPath, size, sha256, options), changed),
        counter((n) => {
          sent += n;
          options.onBytes?.(n);
        }),
        req,
      );
      if (sent !== size) {
        req.destroy();
        throw changed();
      }
    })();
    // The answer can come before the body is sent (a refusal): then the body's failure is moot.
    const settled = await Promise.race([
      answer.then((response) => ({ response })),
      body.then(
        () => undefined,
        (error: unknown) => ({ error }),
      ),
    ]);
    if (settled && 'error' in settled) {
      req.destroy();
      throw settled.error instanceof P2PError
        ? settled.error
        : this.gateway.unreachable(settled.error);
    }
    const response = settled?.response ?? (await answer);
    body.catch(() => undefined);
    const text = await readBody(response, MAX_JSON_ANSWER);
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) throw gatewayFailure(this.gateway.url, status, text);
    let parsed: PutAnswer;
    try {
      parsed = JSON.parse(text.toString('utf8')) as PutAnswer;
    } catch {
      throw new P2PError(
        'node_error',
        `the gateway at ${this.gateway.url} answered something not JSON`,
      );
    }
    checkFileView(parsed.file);
    return parsed;
  }

  /**
   * Streams version `version` of `path` from byte `start` (a Range request) into the sink
   * made for the byte the answer starts at: `start`, or 0 when the gateway sends the whole
   * file. Resolves with where it started and the number of bytes written. A cut connection (fewer bytes than announced) is an error: what
   * was written is kept by the caller to resume from.
   */
  async download(
    path: string,
    version: string,
    start: number,
    sinkFrom: (from: number) => Promise<Writable>,
    onBytes?: (n: number) => void,
  ): Promise<{ start: number; bytes: number }> {
    // The sink is made only once an answer is 2xx: a refused request is simply asked again.
    return this.retrying(() => this.downloadOnce(path, version, start, sinkFrom, onBytes));
  }

  private async downloadOnce(
    path: string,
    version: string,
    start: number,
    sinkFrom: (from: number) => Promise<Writable>,
    onBytes?: (n: number) => void,
  ): Promise<{ start: number; bytes: number }> {
    const headers: Record<string, string> = start > 0 ? { range: `bytes=${start}-` } : {};
    const { req, answer } = this.send(
      'GET',
      `${this.base}/content?path=${q(path)}&version=${q(version)}`,
      headers,
    );
    req.end();
    const response = await answer;
    const status = response.statusCode ?? 0;
    if (status !== 200 && status !== 206) {
      throw gatewayFailure(this.gateway.url, status, await readBody(response, MAX_JSON_ANSWER));
    }
    // A 200 is the whole file, whatever was asked; a 206 must start where asked.
    let from = 0;
    if (status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(response.headers['content-range'] ?? '');
      if (!range || Number(range[1]) !== start) {
        response.destroy();
        throw new P2PError('node_error', 'the gateway answered another range than the one asked');
      }
      from = start;
    }
    const announced = Number(response.headers['content-length'] ?? NaN);
    const sink = await sinkFrom(from);
    let got = 0;
    try {
      await pipeline(
        response,
        counter((n) => {
          got += n;
          onBytes?.(n);
        }),
        sink,
      );
    } catch (error) {
      throw new P2PError(
        'node_unreachable',
        `the download of ${path} broke off after ${from + got} bytes: ${(error as Error).message}`,
      );
    }
    if (Number.isSafeInteger(announced) && got !== announced) {
      throw new P2PError(
        'chunk_unavailable',
        `the download of ${path} broke off after ${from + got} bytes (the gateway could not read the rest from any node)`,
      );
    }
    return { start: from, bytes: got };
  }
}
