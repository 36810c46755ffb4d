// The part of Hyperbee 2 that the benchmarks use (the package ships no types).
declare module 'hyperbee' {
  export interface HyperbeeEntry<K, V> {
    readonly seq: number;
    readonly key: K;
    readonly value: V;
  }
  type Encoding = 'binary' | 'utf-8' | 'json';
  export interface HyperbeeBatch<K, V> {
    put(key: K, value: V): Promise<void>;
    flush(): Promise<void>;
  }
  export default class Hyperbee<K = Buffer, V = Buffer> {
    /** `core` is a Hypercore, or a view core handed out by Autobase's store. */
    constructor(
      core: unknown,
      options?: { keyEncoding?: Encoding; valueEncoding?: Encoding; extension?: boolean },
    );
    /** The Hypercore the tree is written to. */
    readonly core: { readonly length: number; treeHash(length?: number): Promise<Buffer> };
    /** Length of the core: one block per put, plus the header. */
    readonly version: number;
    ready(): Promise<void>;
    put(key: K, value: V): Promise<void>;
    get(key: K): Promise<HyperbeeEntry<K, V> | null>;
    batch(options?: { update?: boolean }): HyperbeeBatch<K, V>;
    createReadStream(): AsyncIterable<HyperbeeEntry<K, V>>;
    close(): Promise<void>;
  }
}
