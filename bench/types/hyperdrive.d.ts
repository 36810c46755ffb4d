// The part of Hyperdrive 13 that the benchmark uses (the package ships no types).
declare module 'hyperdrive' {
  import type { Duplex } from 'node:stream';
  import type Corestore from 'corestore';
  /** A streamx stream: Node-like events and async iteration, not a Node stream. */
  export interface DriveWriteStream {
    write(data: Buffer): boolean;
    end(): void;
    once(event: 'drain' | 'close' | 'finish', listener: () => void): void;
    once(event: 'error', listener: (error: Error) => void): void;
  }
  export default class Hyperdrive {
    constructor(store: Corestore, options?: { encryptionKey?: Buffer });
    constructor(store: Corestore, key: Buffer, options?: { encryptionKey?: Buffer });
    readonly key: Buffer;
    ready(): Promise<void>;
    update(options?: { wait?: boolean }): Promise<boolean>;
    put(path: string, data: Buffer): Promise<void>;
    createWriteStream(path: string, options?: { dedup?: boolean }): DriveWriteStream;
    /** The blob store; its core's byteLength is the bytes of every block appended. */
    getBlobs(): Promise<{ readonly core: { readonly byteLength: number } }>;
    createReadStream(path: string): AsyncIterable<Buffer>;
    download(folder?: string): { done(): Promise<void> };
    replicate(isInitiator: boolean): Duplex;
    close(): Promise<void>;
  }
}
