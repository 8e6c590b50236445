// What a LogStore needs from a storage engine: an ordered byte-key map with atomic batches.
// Everything Raft-specific (key layout, truncation, fail-stop, versioning) lives above this in
// KvLogStore, so every engine behaves the same and one conformance suite covers them all.

export type KvOp =
  | { type: 'put'; key: Uint8Array; value: Uint8Array }
  | { type: 'del'; key: Uint8Array };

export interface KvRangeOptions {
  /** Highest keys first. */
  reverse?: boolean;
  /** At most this many pairs. */
  limit?: number;
}

export interface KvBackend {
  /** Where the data lives, for error messages ("rocksdb at /var/lib/x"). */
  readonly location: string;
  open(): Promise<void>;
  close(): Promise<void>;
  get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Pairs with gte <= key < lt, in key order (reversed if asked). */
  range(gte: Uint8Array, lt: Uint8Array, options?: KvRangeOptions): Promise<Array<[Uint8Array, Uint8Array]>>;
  /**
   * At most `limit` pairs with gte <= key < lt, in key order, read synchronously: for short reads
   * the caller cannot wait for (the Raft core reading back an append's worth of entries).
   */
  rangeSync(gte: Uint8Array, lt: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]>;
  /**
   * Apply every op in order, all or nothing. With sync, resolves once durable. The backend may
   * keep the op buffers: callers must not reuse them.
   */
  write(ops: KvOp[], sync: boolean): Promise<void>;
}
