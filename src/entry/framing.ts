/**
 * Binary framing of entry batches (media type application/vnd.p2pcloud.entries): each entry is
 * a u32 big-endian length followed by its canonical bytes. Used by put, get and sync because it
 * costs nothing to parse, unlike base64 inside JSON.
 */
import { P2PError } from '../errors.js';

export const ENTRIES_MEDIA_TYPE = 'application/vnd.p2pcloud.entries';

export function encodeFrames(entries: readonly Uint8Array[]): Buffer {
  let total = 0;
  for (const entry of entries) total += 4 + entry.length;
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const entry of entries) {
    out.writeUInt32BE(entry.length, offset);
    out.set(entry, offset + 4);
    offset += 4 + entry.length;
  }
  return out;
}

export interface FrameLimits {
  /** Frames longer than this are refused (the stream cannot be trusted past a bad length). */
  readonly maxFrameBytes: number;
  readonly maxFrames?: number;
}

/** Splits a complete buffer into frames (views, not copies). */
export function decodeFrames(data: Buffer, limits: FrameLimits): Buffer[] {
  const reader = new FrameReader(limits);
  const frames = reader.push(data);
  if (!reader.isEmpty)
    throw new P2PError('bad_request', 'entry stream ends in the middle of a frame');
  return frames;
}

/** Incremental frame parser for streamed bodies: push chunks, get whole frames back. */
export class FrameReader {
  private buffered: Buffer = Buffer.alloc(0);
  private frames = 0;

  constructor(private readonly limits: FrameLimits) {}

  get isEmpty(): boolean {
    return this.buffered.length === 0;
  }

  push(chunk: Buffer): Buffer[] {
    let data = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const out: Buffer[] = [];
    let offset = 0;
    while (data.length - offset >= 4) {
      const length = data.readUInt32BE(offset);
      if (length > this.limits.maxFrameBytes) {
        throw new P2PError(
          'entry_too_large',
          `frame of ${length} bytes exceeds the limit of ${this.limits.maxFrameBytes}`,
        );
      }
      if (data.length - offset - 4 < length) break;
      out.push(data.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
      this.frames += 1;
      if (this.limits.maxFrames !== undefined && this.frames > this.limits.maxFrames) {
        throw new P2PError(
          'bad_request',
          `more than ${this.limits.maxFrames} entries in one stream`,
        );
      }
    }
    data = data.subarray(offset);
    // Keep only the unfinished tail; copy so a big chunk is not pinned by a small remainder.
    this.buffered = data.length > 0 ? Buffer.from(data) : Buffer.alloc(0);
    return out;
  }
}
