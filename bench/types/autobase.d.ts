// The part of Autobase 7 that the benchmarks use (the package ships no types).
declare module 'autobase' {
  import type { Duplex } from 'node:stream';
  import type Corestore from 'corestore';

  export interface AutobaseNode<T> {
    readonly value: T;
  }
  /** What `apply` may do to the base besides writing the view. */
  export interface AutobaseHost {
    addWriter(key: Buffer, options?: { indexer?: boolean }): Promise<void>;
  }
  /** The store handed to `open`, from which views take their cores. */
  export interface AutobaseViewStore {
    get(name: string): unknown;
  }
  export interface AutobaseHandlers<T, View> {
    open(store: AutobaseViewStore): View;
    apply(nodes: readonly AutobaseNode<T>[], view: View, host: AutobaseHost): Promise<void>;
    valueEncoding?: 'json' | 'binary';
  }
  export default class Autobase<T, View> {
    constructor(store: Corestore, bootstrap: Buffer | null, handlers: AutobaseHandlers<T, View>);
    readonly key: Buffer;
    /** This writer's own input core. */
    readonly local: { readonly key: Buffer };
    readonly writable: boolean;
    readonly view: View;
    ready(): Promise<void>;
    append(value: T | T[]): Promise<unknown>;
    update(): Promise<void>;
    replicate(isInitiator: boolean): Duplex;
    on(event: 'error', listener: (error: Error) => void): this;
    once(event: 'writable', listener: () => void): this;
    close(): Promise<void>;
  }
}
