// The in-memory engine for tests and the deterministic simulation. A MemoryDisk plays the part of
// a data directory and models durability: writes with sync:false stay in an unsynced layer, a
// sync:true write makes everything so far durable, and crash() (power loss) drops what was never
// synced. Every promise resolves at once and nothing depends on time or randomness.

import { FlotillaError } from '../common/errors.js';
import type { KvBackend, KvOp, KvRangeOptions } from './kv-backend.js';
import { KvLogStore } from './kv-log-store.js';
import { SortedMap } from './sorted-map.js';

/** Tag + group id + record kind: the key prefix shared by one group's records of one kind. */
const BUCKET_PREFIX = 6;

export class MemoryDisk {
  /** What survives a crash: the state as of the last sync. */
  private durable = new Map<string, Uint8Array>();
  /** Writes since the last sync, in order; live = durable + these. */
  private unsynced: KvOp[] = [];
  /** What reads see. */
  private live = new SortedMap<Uint8Array>(BUCKET_PREFIX);
  private injected: Error | null = null;
  /** Set while a store has the disk open, like RocksDB's LOCK file. */
  inUse = false;
  /** Batches written and syncs done, for tests that count fsyncs. */
  readonly stats = { writes: 0, syncs: 0 };

  constructor(readonly name = 'memory') {}

  get(key: Uint8Array): Uint8Array | undefined {
    return this.live.get(toKey(key))?.slice();
  }

  range(gte: Uint8Array, lt: Uint8Array, options: KvRangeOptions = {}): Array<[Uint8Array, Uint8Array]> {
    const out: Array<[Uint8Array, Uint8Array]> = [];
    const limit = options.limit ?? Infinity;
    for (const [key, value] of this.live.range(toKey(gte), toKey(lt), options.reverse)) {
      if (out.length >= limit) break;
      out.push([fromKey(key), value.slice()]);
    }
    return out;
  }

  write(ops: KvOp[], sync: boolean): void {
    if (this.injected !== null) {
      const err = this.injected;
      this.injected = null;
      throw err;
    }
    for (const op of ops) {
      if (op.type === 'put') this.live.set(toKey(op.key), op.value);
      else this.live.delete(toKey(op.key));
      this.unsynced.push(op);
    }
    this.stats.writes++;
    if (!sync) return;
    for (const op of this.unsynced) {
      if (op.type === 'put') this.durable.set(toKey(op.key), op.value);
      else this.durable.delete(toKey(op.key));
    }
    this.unsynced = [];
    this.stats.syncs++;
  }

  /** Power loss: forget every write that was not synced, and release the disk. */
  crash(): void {
    this.unsynced = [];
    this.live = new SortedMap<Uint8Array>(BUCKET_PREFIX);
    for (const key of [...this.durable.keys()].sort()) this.live.set(key, this.durable.get(key) as Uint8Array);
    this.inUse = false;
  }

  /** What a crash now would leave of `key` (the simulation reads other hosts' records with it). */
  getDurable(key: Uint8Array): Uint8Array | undefined {
    return this.durable.get(toKey(key))?.slice();
  }

  /**
   * A copy of what would survive a crash now, as a backup or a VM snapshot holds it (a test puts it
   * back later, to check the fleet notices a data directory older than what it has seen).
   */
  copy(name = this.name): MemoryDisk {
    const disk = new MemoryDisk(name);
    // Stored values are never changed in place (writes replace them), so they can be shared.
    for (const [key, value] of this.durable) disk.durable.set(key, value);
    disk.crash();
    return disk;
  }

  /** The next write fails with `error` and changes nothing. */
  failNextWrite(error: Error): void {
    this.injected = error;
  }
}

class MemoryBackend implements KvBackend {
  readonly location: string;

  constructor(private readonly disk: MemoryDisk) {
    this.location = `memory disk "${disk.name}"`;
  }

  async open(): Promise<void> {
    if (this.disk.inUse) throw new FlotillaError('STORAGE_UNAVAILABLE', `${this.location} is in use by another store`);
    this.disk.inUse = true;
  }

  async close(): Promise<void> {
    this.disk.inUse = false;
  }

  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.disk.get(key);
  }

  async range(gte: Uint8Array, lt: Uint8Array, options?: KvRangeOptions): Promise<Array<[Uint8Array, Uint8Array]>> {
    return this.disk.range(gte, lt, options);
  }

  rangeSync(gte: Uint8Array, lt: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    return this.disk.range(gte, lt, { limit });
  }

  async write(ops: KvOp[], sync: boolean): Promise<void> {
    this.disk.write(ops, sync);
  }
}

export class MemoryLogStore extends KvLogStore {
  /** Re-open after a crash with `open()`, or give `disk` to a new store: both see synced state only. */
  constructor(readonly disk: MemoryDisk = new MemoryDisk()) {
    super(new MemoryBackend(disk));
  }

  /**
   * Simulated power loss of the host: the store stops at once (pending and later calls fail with
   * STORAGE_UNAVAILABLE) and the disk forgets everything not synced.
   */
  crash(): void {
    this.halt();
    this.disk.crash();
  }

  /** The next write fails with `error`, changes nothing, and leaves the store failed (fail-stop). */
  failNextWrite(error: Error = new Error('injected write failure')): void {
    this.disk.failNextWrite(error);
  }
}

/** Latin-1 strings compare like the bytes they hold, so they serve as ordered map keys. */
function toKey(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
}

function fromKey(key: string): Uint8Array {
  return Buffer.from(key, 'latin1');
}
