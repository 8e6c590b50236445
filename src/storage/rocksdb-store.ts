// The RocksDB engine (npm `@nxtedition/rocksdb` 12.2: RocksDB 9.7, N-API, prebuilt for Linux x64
// and macOS arm64): one database per host, so all groups share one WAL and one sync per batch.
// The native module loads lazily, when a store opens, so importing this file never crashes a
// process whose Node or platform has no matching binary; a load failure is STORAGE_UNAVAILABLE.
//
// It calls the binding's native functions (binding.js) directly, not the package's abstract-level
// class (RocksLevel): the writer thread needs them (below), and the class adds option objects and
// encoding steps to every call. The dependency is pinned to the release these signatures were
// read from, and loading checks that each function is there. Keys and values are Buffers both
// ways ('buffer' encodings), so nothing is transcoded.
//
// Writes: the binding writes synchronously on the calling thread, WAL fsync included, so they go
// to a writer thread (rocksdb-writer.ts); WriteOptions.sync = the caller's sync, which fsyncs the
// WAL before the write is acknowledged. Main-thread busy time per write (event-loop utilization,
// medians of 5 runs of 100-1000 writes of 100-byte values, ranges over three sittings on a shared
// 2-core VM whose fsync takes 0.15-0.5 ms):
//                                          1 put     1 put, sync    100 puts, sync
//   this file (writer thread)             22-25 us     33-37 us        51-61 us
//   native calls on the main thread        6-11 us   148-223 us      264-343 us   (fsync blocks it)
//   RocksLevel chained batch              13-20 us   200-276 us      366-370 us
//   RocksLevel array batch                13-15 us   210-241 us      366-444 us
//   the old binding (rocksdb 5.2.1)       20-28 us     37-78 us       79-118 us
// About 11 us of a write is Atomics.notify waking the sleeping thread (a futex wake; the old
// binding paid the same to wake libuv's pool). The price is latency: a write is acknowledged
// 50-140 us later than with the old binding (the thread decodes the batch, and the reply is a
// MessagePort message), e.g. a synced 1-put write took 290-315 us against 235-255 us.
// Reads stay on the main thread, synchronous: the binding creates and seeks an iterator
// synchronously in every variant, and its asynchronous nextv costs 25-40 us more of the main
// thread per range (a limit-1 probe: 10 us synchronous, 35-50 us asynchronous). A long range is
// read in chunks with a turn of the event loop between them.
//
// One option differs from the binding's defaults: walCompression is off. RocksDB 6 (the `rocksdb`
// 5.x binding of earlier flotilla releases) reads a zstd-compressed WAL as empty, without an
// error, so a rollback would silently lose what had not been flushed; a plain WAL it reads (the
// SST files RocksDB 9 writes it refuses, loudly). Data directories of those releases: their WAL
// opens here, their Snappy-compressed SST files do not (refuseUnreadableFormat, below).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, open, readdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { FlotillaError } from '../common/errors.js';
import type { KvBackend, KvOp, KvRangeOptions } from './kv-backend.js';
import { KvLogStore } from './kv-log-store.js';
import { RocksWriter } from './rocksdb-writer.js';

/** The binding's native functions, required by path (the package's index.js is the abstract-level class). */
const BINDING_MODULE = '@nxtedition/rocksdb/binding.js';

// The slice of the untyped binding this file and the writer thread use. Handles are opaque externals.
declare const dbBrand: unique symbol;
declare const iteratorBrand: unique symbol;
type DbHandle = { readonly [dbBrand]: true };
type IteratorHandle = { readonly [iteratorBrand]: true };
type Callback = (err: Error | null | undefined) => void;
interface RangeOptions {
  gte: Buffer;
  lt: Buffer;
  reverse: boolean;
  /** -1 for no limit. */
  limit: number;
  keyEncoding: 'buffer';
  valueEncoding: 'buffer';
}
interface RocksBinding {
  db_init(location: string): DbHandle;
  db_open(db: DbHandle, options: typeof OPEN_OPTIONS, callback: Callback): void;
  db_close(db: DbHandle, callback: Callback): void;
  /** The DB as a pointer, for db_init on another thread. */
  db_get_handle(db: DbHandle): bigint;
  /** undefined: not found; null: the read was aborted. */
  db_get_many_sync(db: DbHandle, keys: Buffer[], options: { valueEncoding: 'buffer' }): Array<Buffer | undefined | null>;
  /** Creates the iterator and seeks, synchronously. */
  iterator_init(db: DbHandle, options: RangeOptions): IteratorHandle;
  /** Up to `count` pairs, flattened: [key, value, key, value, ...]. */
  iterator_nextv_sync(iterator: IteratorHandle, count: number): { rows: Buffer[]; finished: boolean };
  iterator_close(iterator: IteratorHandle): void;
}
/** Every native function used here or in the writer thread; loading checks them all. */
const BINDING_FUNCTIONS = [
  'db_init', 'db_open', 'db_close', 'db_get_handle', 'db_get_many_sync',
  'iterator_init', 'iterator_nextv_sync', 'iterator_close',
  'batch_init', 'batch_put', 'batch_del', 'batch_clear', 'batch_write',
] as const;

const OPEN_OPTIONS = { createIfMissing: true, errorIfExists: false, walCompression: false };
/** An SST file ends with [format_version u32][magic u64], little-endian (RocksDB table/format.cc). */
const SST_TAIL_BYTES = 12;
const SST_MAGIC = 0x88e2_41b7_85f4_cff7n;
/** The format_version of the SST files RocksDB 9.7 writes; RocksDB 6.17 wrote 4. */
const OWN_SST_FORMAT = 6;
const GET_OPTIONS = { valueEncoding: 'buffer' } as const;
/** Pairs per synchronous read; a longer range yields to the event loop between chunks. */
const RANGE_CHUNK_PAIRS = 1000;
/** The binding reads `limit` as an int32. */
const MAX_LIMIT = 0x7fff_ffff;
/**
 * The linux-x64 prebuild (and a build from the package's binding.gyp) is compiled with
 * -march=znver1. Its code uses these (/proc/cpuinfo names; LZCNT is `abm`); on a CPU without
 * them it would kill the process with SIGILL instead of failing to load.
 */
const X64_CPU_FEATURES = ['avx2', 'bmi1', 'bmi2', 'fma', 'abm', 'movbe', 'popcnt', 'sse4_2', 'pclmulqdq'];

interface Loaded {
  binding: RocksBinding;
  /** Absolute path of the binding module, for the writer thread's require. */
  path: string;
}
let loaded: Loaded | null = null;

/** What an open backend holds. */
interface OpenDb {
  binding: RocksBinding;
  db: DbHandle;
  writer: RocksWriter;
}

export class RocksdbBackend implements KvBackend {
  readonly location: string;
  private state: OpenDb | null = null;

  constructor(private readonly dir: string) {
    this.location = `rocksdb at ${dir}`;
  }

  async open(): Promise<void> {
    assert(this.state === null, `${this.location} is already open`);
    const { binding, path } = loadRocksdb();
    await mkdir(this.dir, { recursive: true });
    await refuseUnreadableFormat(this.location, this.dir);
    const db = binding.db_init(this.dir);
    try {
      await call((cb) => binding.db_open(db, OPEN_OPTIONS, cb));
    } catch (err) {
      throw openError(this.location, err);
    }
    let writer: RocksWriter;
    try {
      writer = await RocksWriter.start(path, binding.db_get_handle(db));
    } catch (err) {
      await call((cb) => binding.db_close(db, cb));
      throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location}: its writer thread did not start: ${describe(err)}`, { cause: err });
    }
    this.state = { binding, db, writer };
  }

  async close(): Promise<void> {
    const { binding, db, writer } = this.opened();
    this.state = null;
    try {
      await writer.stop();
    } finally {
      await call((cb) => binding.db_close(db, cb));
    }
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const { binding, db } = this.opened();
    const [value] = binding.db_get_many_sync(db, [toBuffer(key)], GET_OPTIONS);
    if (value === null) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location}: a read was aborted`);
    return value;
  }

  async range(gte: Uint8Array, lt: Uint8Array, options: KvRangeOptions = {}): Promise<Array<[Uint8Array, Uint8Array]>> {
    const state = this.opened();
    const { binding } = state;
    const limit = options.limit ?? -1;
    if (!(Number.isSafeInteger(limit) && limit >= -1 && limit <= MAX_LIMIT)) {
      throw new FlotillaError('BAD_ARGUMENT', `range limit ${limit} is not an integer from 0 to ${MAX_LIMIT}`);
    }
    const iterator = binding.iterator_init(state.db, {
      gte: toBuffer(gte),
      lt: toBuffer(lt),
      reverse: options.reverse ?? false,
      limit,
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
    });
    const out: Array<[Uint8Array, Uint8Array]> = [];
    try {
      for (;;) {
        const { rows, finished } = binding.iterator_nextv_sync(iterator, RANGE_CHUNK_PAIRS);
        for (let i = 0; i < rows.length; i += 2) out.push([rows[i] as Buffer, rows[i + 1] as Buffer]);
        if (finished) return out;
        await new Promise<void>((resolve) => setImmediate(resolve));
        // Closing the DB closes its iterators: this one must not be read after that.
        if (this.state !== state) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location} was closed during a read`);
      }
    } finally {
      binding.iterator_close(iterator);
    }
  }

  rangeSync(gte: Uint8Array, lt: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    const { binding, db } = this.opened();
    if (!(Number.isSafeInteger(limit) && limit > 0 && limit <= RANGE_CHUNK_PAIRS)) throw new FlotillaError('BAD_ARGUMENT', `a synchronous range reads 1 to ${RANGE_CHUNK_PAIRS} pairs, not ${limit}`);
    const iterator = binding.iterator_init(db, { gte: toBuffer(gte), lt: toBuffer(lt), reverse: false, limit, keyEncoding: 'buffer', valueEncoding: 'buffer' });
    try {
      const { rows } = binding.iterator_nextv_sync(iterator, limit);
      const out: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = 0; i < rows.length; i += 2) out.push([rows[i] as Buffer, rows[i + 1] as Buffer]);
      return out;
    } finally {
      binding.iterator_close(iterator);
    }
  }

  write(ops: KvOp[], sync: boolean): Promise<void> {
    return this.opened().writer.write(ops, sync);
  }

  /** KvLogStore never calls a closed backend; this guard is the last line against a segfault. */
  private opened(): OpenDb {
    if (this.state === null) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location} is not open`);
    return this.state;
  }
}

export function createRocksdbStore(dir: string): KvLogStore {
  return new KvLogStore(new RocksdbBackend(dir));
}

function loadRocksdb(): Loaded {
  if (loaded !== null) return loaded;
  const unavailable = (reason: string, cause?: unknown): FlotillaError =>
    new FlotillaError(
      'STORAGE_UNAVAILABLE',
      `the rocksdb native module could not be loaded on Node ${process.version} ${process.platform}-${process.arch} ` +
        `(${reason}); use storage: 'lmdb' instead`,
      cause === undefined ? {} : { cause },
    );
  const missing = missingCpuFeatures();
  if (missing.length > 0) throw unavailable(`its linux-x64 build needs CPU features this CPU lacks: ${missing.join(', ')}`);
  let binding: Record<string, unknown>;
  let path: string;
  try {
    const require = createRequire(import.meta.url);
    path = require.resolve(BINDING_MODULE);
    binding = require(path) as Record<string, unknown>;
  } catch (err) {
    throw unavailable(describe(err), err);
  }
  const absent = BINDING_FUNCTIONS.filter((name) => typeof binding[name] !== 'function');
  if (absent.length > 0) throw unavailable(`${BINDING_MODULE} has no ${absent.join(', ')}: not the 12.2 binding flotilla was built for`);
  loaded = { binding: binding as unknown as RocksBinding, path };
  return loaded;
}

function missingCpuFeatures(): string[] {
  if (process.platform !== 'linux' || process.arch !== 'x64') return [];
  let cpuinfo: string;
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return []; // no /proc to ask: let the load decide
  }
  const flags = new Set(/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1]?.trim().split(/\s+/) ?? []);
  return flags.size === 0 ? [] : X64_CPU_FEATURES.filter((feature) => !flags.has(feature));
}

/**
 * Refuses, before RocksDB touches it, a directory with SST files this build cannot decompress:
 * earlier flotilla releases (npm `rocksdb` 5.x, RocksDB 6.17) wrote them Snappy-compressed, and
 * @nxtedition/rocksdb is built with zstd only. RocksDB would fail on them at open or, worse, only
 * on a later read or compaction. Those files are told apart by their format_version (4; RocksDB
 * 9.7 writes 6), stored with the magic number in the last 12 bytes of every SST file. A directory
 * of those releases with no SST file yet (everything still in the WAL, whose format is unchanged)
 * opens.
 */
async function refuseUnreadableFormat(location: string, dir: string): Promise<void> {
  const old: string[] = [];
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.sst')).sort()) {
    const version = await sstFormatVersion(join(dir, name));
    if (version !== null && version < OWN_SST_FORMAT) old.push(name);
  }
  if (old.length === 0) return;
  throw new FlotillaError(
    'STORAGE_VERSION',
    `${location} holds ${old.length} SST file(s) (${old.slice(0, 3).join(', ')}${old.length > 3 ? ', ...' : ''}) of flotilla's ` +
      `earlier engine (npm rocksdb 5.x, RocksDB 6.17), Snappy-compressed, which this build (@nxtedition/rocksdb 12.2, ` +
      `RocksDB 9.7, zstd only) cannot read. With the host stopped, either migrate the directory on Node 20 with ` +
      `the package's scripts/migrate-rocksdb5.mjs (node_modules/flotilla/scripts/; its header says how), or start it as a ` +
      `new host (a new host id: the fleet refuses this id with another data directory) on an empty data directory, and ` +
      `the fleet re-replicates its groups onto it once the old host is marked failed`,
    { oldFiles: old },
  );
}

/** The format_version of an SST file, or null if it does not end like a block-based table. */
async function sstFormatVersion(path: string): Promise<number | null> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    if (size < SST_TAIL_BYTES) return null;
    const tail = Buffer.alloc(SST_TAIL_BYTES);
    await file.read(tail, 0, SST_TAIL_BYTES, size - SST_TAIL_BYTES);
    return tail.readBigUInt64LE(4) === SST_MAGIC ? tail.readUInt32LE(0) : null;
  } finally {
    await file.close();
  }
}

function openError(location: string, err: unknown): FlotillaError {
  const message = describe(err);
  const code = (err as { code?: unknown } | null)?.code;
  if (/Unsupported compression method/i.test(message)) {
    return new FlotillaError('STORAGE_VERSION', `${location} holds files compressed with a codec this build lacks (it has zstd only): ${message}`, { cause: err });
  }
  if (/newer version/i.test(message)) {
    return new FlotillaError(
      'STORAGE_VERSION',
      `${location} was written by a newer RocksDB than this flotilla's (RocksDB 9.7): upgrade flotilla to open it (${message})`,
      { cause: err },
    );
  }
  if (code === 'LEVEL_CORRUPTION' || message.startsWith('Corruption')) {
    return new FlotillaError('STORAGE_CORRUPT', `${location} cannot be opened: ${message}`, { cause: err });
  }
  const locked = code === 'LEVEL_LOCKED' || /\block\b/i.test(message);
  const reason = locked ? 'is locked by another process or store' : 'cannot be opened';
  return new FlotillaError('STORAGE_UNAVAILABLE', `${location} ${reason}: ${message}`, { cause: err });
}

/** The binding wants Buffers; this view copies nothing. */
function toBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function call(run: (callback: Callback) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => run((err) => (err ? reject(err) : resolve())));
}
