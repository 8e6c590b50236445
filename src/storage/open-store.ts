// Picks a LogStore engine by name: what a host's `storage` option selects.

import { FlotillaError } from '../common/errors.js';
import { createLmdbStore } from './lmdb-store.js';
import type { LogStore } from './log-store.js';
import { MemoryDisk, MemoryLogStore } from './memory-store.js';
import { createRocksdbStore } from './rocksdb-store.js';

export type StorageEngine = 'rocksdb' | 'lmdb' | 'memory';

export type LogStoreOptions =
  | { engine: 'rocksdb' | 'lmdb'; dir: string }
  /** A memory store lives on `disk` (a fresh one if absent), which outlives the store. */
  | { engine: 'memory'; disk?: MemoryDisk };

/** A store of the chosen engine, not yet opened. */
export function createLogStore(options: { engine: 'memory'; disk?: MemoryDisk }): MemoryLogStore;
export function createLogStore(options: LogStoreOptions): LogStore;
export function createLogStore(options: LogStoreOptions): LogStore {
  switch (options.engine) {
    case 'rocksdb':
      return createRocksdbStore(options.dir);
    case 'lmdb':
      return createLmdbStore(options.dir);
    case 'memory':
      return new MemoryLogStore(options.disk ?? new MemoryDisk());
    default:
      throw new FlotillaError('BAD_ARGUMENT', `unknown storage engine ${JSON.stringify((options as { engine: unknown }).engine)}; use 'rocksdb', 'lmdb' or 'memory'`);
  }
}

/** A store of the chosen engine, opened: the format version is checked (STORAGE_VERSION). */
export async function openLogStore(options: { engine: 'memory'; disk?: MemoryDisk }): Promise<MemoryLogStore>;
export async function openLogStore(options: LogStoreOptions): Promise<LogStore>;
export async function openLogStore(options: LogStoreOptions): Promise<LogStore> {
  const store = createLogStore(options);
  await store.open();
  return store;
}
