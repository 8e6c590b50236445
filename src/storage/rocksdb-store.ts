// The RocksDB engine (npm `rocksdb`, an abstract-leveldown binding): one database per host, so all
// groups share one WAL and one sync per batch. The native module loads lazily, when a store
// opens, so importing this file never crashes a process whose Node has no matching binary.
// Writes are one chained batch each, with WriteOptions.sync = the caller's sync (the binding passes
// it straight to rocksdb::WriteOptions::sync, which fsyncs the WAL before the callback). The chained
// form hands each key and value to the binding as arguments; the array form makes it read three
// properties of an object per operation, which cost 3x the main thread's time (bench: 1.9 against
// 0.6 us per put), and a host's main thread is what a busy fleet runs out of.

import { mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { FlotillaError } from '../errors.js';
import type { KvBackend, KvOp, KvRangeOptions } from './kv-backend.js';
import { KvLogStore } from './kv-log-store.js';

// The slice of the untyped binding this file uses.
type Callback<T = void> = (err: Error | null | undefined, value?: T) => void;
interface RocksIterator {
  next(callback: (err: Error | null | undefined, key?: Buffer, value?: Buffer) => void): void;
  end(callback: Callback): void;
}
interface RocksDb {
  open(options: { createIfMissing: boolean; errorIfExists: boolean }, callback: Callback): void;
  close(callback: Callback): void;
  get(key: Buffer, callback: Callback<Buffer>): void;
  batch(): RocksBatch;
  iterator(options: { gte: Buffer; lt: Buffer; reverse: boolean; limit: number }): RocksIterator;
}
interface RocksBatch {
  put(key: Buffer, value: Buffer): void;
  del(key: Buffer): void;
  write(options: { sync: boolean }, callback: Callback): void;
}
type RocksFactory = (location: string) => RocksDb;

export class RocksdbBackend implements KvBackend {
  readonly location: string;
  private db: RocksDb | null = null;

  constructor(private readonly dir: string) {
    this.location = `rocksdb at ${dir}`;
  }

  async open(): Promise<void> {
    const db = loadRocksdb()(this.dir);
    await mkdir(this.dir, { recursive: true });
    try {
      await call<void>((cb) => db.open({ createIfMissing: true, errorIfExists: false }, cb));
    } catch (err) {
      throw openError(this.location, err);
    }
    this.db = db;
  }

  async close(): Promise<void> {
    const db = this.opened();
    this.db = null;
    await call<void>((cb) => db.close(cb));
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const db = this.opened();
    try {
      return await call<Buffer>((cb) => db.get(toBuffer(key), cb));
    } catch (err) {
      if (err instanceof Error && err.message.startsWith('NotFound')) return undefined;
      throw err;
    }
  }

  async range(gte: Uint8Array, lt: Uint8Array, options: KvRangeOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    const iterator = this.opened().iterator({
      gte: toBuffer(gte),
      lt: toBuffer(lt),
      reverse: options.reverse ?? false,
      limit: options.limit ?? -1,
    });
    const out: Array<[Uint8Array, Uint8Array]> = [];
    try {
      for (;;) {
        const pair = await new Promise<[Buffer, Buffer] | null>((resolve, reject) =>
          iterator.next((err, key, value) => {
            if (err) reject(err);
            else resolve(key === undefined || value === undefined ? null : [key, value]);
          }),
        );
        if (pair === null) return out;
        out.push(pair);
      }
    } finally {
      await call<void>((cb) => iterator.end(cb));
    }
  }

  async write(ops: KvOp[], sync: boolean): Promise<void> {
    const batch = this.opened().batch();
    for (const op of ops) {
      if (op.type === 'put') batch.put(toBuffer(op.key), toBuffer(op.value));
      else batch.del(toBuffer(op.key));
    }
    await call<void>((cb) => batch.write({ sync }, cb));
  }

  /** KvLogStore never calls a closed backend; this guard is the last line against a segfault. */
  private opened(): RocksDb {
    if (this.db === null) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location} is not open`);
    return this.db;
  }
}

export function createRocksdbStore(dir: string): KvLogStore {
  return new KvLogStore(new RocksdbBackend(dir));
}

function loadRocksdb(): RocksFactory {
  try {
    return createRequire(import.meta.url)('rocksdb') as RocksFactory;
  } catch (err) {
    throw new FlotillaError(
      'STORAGE_UNAVAILABLE',
      `the rocksdb native module could not be loaded on Node ${process.version} ` +
        `(${err instanceof Error ? err.message : String(err)}); use storage: 'lmdb' instead`,
      { cause: err },
    );
  }
}

function openError(location: string, err: unknown): FlotillaError {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('Corruption')) {
    return new FlotillaError('STORAGE_CORRUPT', `${location} cannot be opened: ${message}`, { cause: err });
  }
  const reason = /\block\b/i.test(message) ? 'is locked by another process or store' : 'cannot be opened';
  return new FlotillaError('STORAGE_UNAVAILABLE', `${location} ${reason}: ${message}`, { cause: err });
}

/** The binding wants Buffers (it would stringify a plain Uint8Array); this view copies nothing. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function call<T>(run: (callback: Callback<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}
