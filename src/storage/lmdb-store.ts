// The LMDB engine (npm `lmdb`): a memory-mapped B-tree in one file, `log.mdb`, in the store's
// directory. Keys and values are raw bytes. The module loads lazily, when a store opens.
//
// Durability, as lmdb-js 3.x works on Linux and macOS: `overlappingSync` is on by default, so a
// transaction's promise resolves once it is committed (written to the file and visible) and
// the fsync follows in the background; `db.flushed` resolves once every commit so far is on
// disk. So sync:false waits for the commit only and sync:true also waits for `flushed`. After a
// process crash LMDB restarts from the last commit; after an OS crash from the last flush.
// `noSync` is never set (it would make `flushed` meaningless).

import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { RootDatabase } from 'lmdb';
import { FlotillaError } from '../common/errors.js';
import type { KvBackend, KvOp, KvRangeOptions } from './kv-backend.js';
import { KvLogStore } from './kv-log-store.js';

type Lmdb = RootDatabase<Buffer, Uint8Array>;

export class LmdbBackend implements KvBackend {
  readonly location: string;
  private db: Lmdb | null = null;

  constructor(private readonly dir: string) {
    this.location = `lmdb at ${dir}`;
  }

  async open(): Promise<void> {
    const { open } = await loadLmdb();
    await mkdir(this.dir, { recursive: true });
    try {
      this.db = open<Buffer, Uint8Array>({
        path: join(this.dir, 'log.mdb'),
        keyEncoding: 'binary',
        encoding: 'binary',
        noSync: false,
      });
    } catch (err) {
      throw new FlotillaError(
        'STORAGE_UNAVAILABLE',
        `${this.location} cannot be opened: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
  }

  async close(): Promise<void> {
    const db = this.opened();
    this.db = null;
    await db.close();
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.opened().get(key);
  }

  async range(gte: Uint8Array, lt: Uint8Array, options: KvRangeOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    const db = this.opened();
    const bounds = options.reverse
      ? { start: lt, exclusiveStart: true, end: gte, inclusiveEnd: true, reverse: true }
      : { start: gte, end: lt };
    const out: Array<[Uint8Array, Uint8Array]> = [];
    for (const { key, value } of db.getRange({ ...bounds, limit: options.limit ?? Infinity })) out.push([key, value]);
    return out;
  }

  rangeSync(gte: Uint8Array, lt: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    const out: Array<[Uint8Array, Uint8Array]> = [];
    for (const { key, value } of this.opened().getRange({ start: gte, end: lt, limit })) out.push([key, value]);
    return out;
  }

  async write(ops: KvOp[], sync: boolean): Promise<void> {
    const db = this.opened();
    // A child transaction rolls back as a whole if any operation throws, so the batch is atomic.
    await db.childTransaction(() => {
      for (const op of ops) {
        if (op.type === 'put') db.putSync(op.key, toBuffer(op.value));
        else db.removeSync(op.key);
      }
    });
    if (sync) await db.flushed;
  }

  private opened(): Lmdb {
    if (this.db === null) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location} is not open`);
    return this.db;
  }
}

export function createLmdbStore(dir: string): KvLogStore {
  return new KvLogStore(new LmdbBackend(dir));
}

async function loadLmdb(): Promise<typeof import('lmdb')> {
  try {
    return await import('lmdb');
  } catch (err) {
    throw new FlotillaError(
      'STORAGE_UNAVAILABLE',
      `the lmdb native module could not be loaded on Node ${process.version} ` +
        `(${err instanceof Error ? err.message : String(err)}); use storage: 'rocksdb' instead`,
      { cause: err },
    );
  }
}

function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
