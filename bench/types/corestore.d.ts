// The part of Corestore 7 that the benchmarks use (the package ships no types).
declare module 'corestore' {
  export default class Corestore {
    constructor(storage: string);
    ready(): Promise<void>;
    close(): Promise<void>;
  }
}
