// The part of Hypercore 11 that the benchmark uses (the package ships no types).
declare module 'hypercore' {
  import type { Duplex } from 'node:stream';
  export default class Hypercore {
    constructor(storage: string, key?: Buffer);
    readonly key: Buffer;
    readonly contiguousLength: number;
    ready(): Promise<void>;
    append(blocks: Buffer | Buffer[]): Promise<unknown>;
    replicate(isInitiator: boolean): Duplex;
    update(options?: { wait?: boolean }): Promise<boolean>;
    download(range: { start: number; end: number }): { done(): Promise<void> };
    close(): Promise<void>;
  }
}
