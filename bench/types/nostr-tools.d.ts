// The NIP-77 (negentropy) part of nostr-tools that the benchmark uses.
declare module 'nostr-tools' {
  class NegentropyStorageVector {
    insert(timestamp: number, id: string): void;
    seal(): void;
  }
  class Negentropy {
    constructor(storage: NegentropyStorageVector, frameSizeLimit?: number);
    initiate(): string;
    reconcile(
      message: string,
      onHave?: (id: string) => void,
      onNeed?: (id: string) => void,
    ): string | null;
  }
  export const nip77: {
    Negentropy: typeof Negentropy;
    NegentropyStorageVector: typeof NegentropyStorageVector;
  };
}
