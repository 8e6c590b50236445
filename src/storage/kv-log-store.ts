// The LogStore every engine shares, over any ordered key-value backend (kv-backend.ts). It owns
// the behaviour that must not differ between engines: the open/closed guard (the rocksdb binding
// segfaults when used while closed, so nothing reaches a backend unless the store is open),
// fail-stop after a write error, the format version check, serialized writes (the writes that
// queue behind one in flight go to the backend together, in one write and one sync), and decoding.

import { FlotillaError } from '../common/errors.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { NONE } from '../raft/types.js';
import {
  DecodeError,
  FORMAT_VERSION,
  GROUPS_END,
  INDEX_LIMIT,
  MAX_GROUP_ID,
  RecordKind,
  VERSION_KEY,
  decodeApplied,
  decodeEntry,
  decodeHardState,
  decodeSnapshot,
  decodeVersion,
  encodeVersion,
  entryKey,
  groupEnd,
  groupKey,
  groupStart,
  metaKey,
  metaName,
  parseGroupKey,
  prefixEnd,
} from './encoding.js';
import type { KvBackend, KvOp } from './kv-backend.js';
import type { GroupRecord, LogStore, WriteBatch } from './log-store.js';
import { KvWriteBatch, checkGroupId } from './write-batch.js';
import { type LogBounds, groupsWithLogChanges, planWrite } from './write-plan.js';

type State = 'closed' | 'opening' | 'open' | 'closing';

/** Entries per synchronous read of readEntries: an append's worth is a few of them. */
const READ_BACK_CHUNK_ENTRIES = 64;
/**
 * Queued writes that go to the backend as one write, at most. Writes queue while one is in flight:
 * the host loop has one at a time, and its peers' requests add theirs (a replica prepared or
 * deleted, a metadata record), each a synced write of its own before: a drain asked a host to
 * prepare a replica for each of hundreds of groups, and their syncs queued one behind another.
 */
const MAX_WRITES_PER_BACKEND_WRITE = 128;

/** A write waiting for its turn: the batch, and what its caller waits on. */
interface QueuedWrite {
  batch: KvWriteBatch;
  sync: boolean;
  epoch: number;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class KvLogStore implements LogStore {
  private state: State = 'closed';
  /** The first write or sync error: once set, every write is refused (fail-stop). */
  private failure: unknown = null;
  /** Writes accepted and not yet handed to the backend, in call order. */
  private readonly queued: QueuedWrite[] = [];
  /** Settles once the queue is empty and no write is in flight; null while none is. */
  private draining: Promise<void> | null = null;
  /** Operations that reached the backend and have not settled; close waits for them. */
  private readonly inflight = new Set<Promise<unknown>>();
  /** Log bounds of groups written or loaded since open, so truncation needs no reads. */
  private readonly bounds = new Map<number, LogBounds>();
  /** Odd while a batch is being applied; bumped before and after, so a read knows if it raced one. */
  private writeSeq = 0;
  /** Changes on every open, close and halt; a queued write from an earlier epoch is refused. */
  private epoch = 0;

  constructor(protected readonly backend: KvBackend) {}

  async open(): Promise<void> {
    if (this.state !== 'closed') throw unavailable(`${this.backend.location} is already ${this.state}`);
    this.state = 'opening';
    try {
      await this.backend.open();
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    try {
      await this.checkVersion();
    } catch (err) {
      await this.backend.close().catch(() => undefined);
      this.state = 'closed';
      throw err;
    }
    this.failure = null;
    this.bounds.clear();
    this.epoch++;
    this.state = 'open';
  }

  async close(): Promise<void> {
    if (this.state !== 'open') return;
    this.state = 'closing';
    await Promise.allSettled([this.draining, ...this.inflight]);
    try {
      await this.backend.close();
    } finally {
      this.epoch++;
      this.state = 'closed';
    }
  }

  newBatch(): WriteBatch {
    return new KvWriteBatch(this);
  }

  write(batch: WriteBatch, options: { sync: boolean }): Promise<void> {
    if (!(batch instanceof KvWriteBatch) || batch.owner !== this) {
      return Promise.reject(new FlotillaError('BAD_ARGUMENT', 'the batch was not made by this store'));
    }
    if (this.state !== 'open') return Promise.reject(unavailable(`${this.backend.location} is not open`));
    if (this.failure !== null) return Promise.reject(this.failedError());
    const epoch = this.epoch;
    return new Promise<void>((resolve, reject) => {
      this.queued.push({ batch, sync: options.sync, epoch, resolve, reject });
      this.draining ??= this.drain();
    });
  }

  /** Hands the queued writes to the backend, as many at a time as queued (up to the bound), until none is left. */
  private async drain(): Promise<void> {
    // Writes called in the same turn of the event loop as the first join it.
    await Promise.resolve();
    try {
      while (this.queued.length > 0) {
        await this.applyTogether(this.queued.splice(0, MAX_WRITES_PER_BACKEND_WRITE));
      }
    } finally {
      this.draining = null;
    }
  }

  groupIds(): Promise<number[]> {
    return this.read(async () => {
      const ids: number[] = [];
      let from = groupStart(0);
      for (;;) {
        const [first] = await this.backend.range(from, GROUPS_END, { limit: 1 });
        if (first === undefined) return ids;
        const { groupId } = this.decode(() => parseGroupKey(first[0]), 'a record key');
        ids.push(groupId);
        if (groupId === MAX_GROUP_ID) return ids;
        from = groupEnd(groupId);
      }
    });
  }

  loadGroup(groupId: number): Promise<GroupRecord> {
    const epoch = this.epoch;
    const writeSeq = this.writeSeq;
    return this.read(async () => {
      checkGroupId(groupId);
      const record: GroupRecord = {
        groupId,
        hardState: { term: 0, vote: NONE, commit: 0 },
        snapshot: null,
        entries: [],
        applied: 0,
      };
      for (const [key, value] of await this.backend.range(groupStart(groupId), groupEnd(groupId))) {
        const { kind, index } = this.decode(() => parseGroupKey(key), `a record key of group ${groupId}`);
        switch (kind) {
          case RecordKind.HardState:
            record.hardState = this.decode((): HardState => decodeHardState(value), `the hard state of group ${groupId}`);
            break;
          case RecordKind.Applied:
            record.applied = this.decode(() => decodeApplied(value), `the applied index of group ${groupId}`);
            break;
          case RecordKind.Snapshot:
            record.snapshot = this.decode((): Snapshot => decodeSnapshot(value), `the snapshot of group ${groupId}`);
            break;
          case RecordKind.Entry: {
            const previous = record.entries[record.entries.length - 1];
            if (previous !== undefined && index !== previous.index + 1) {
              throw corrupt(`group ${groupId}: log entries jump from index ${previous.index} to ${index}`, groupId, index);
            }
            record.entries.push(this.decodeEntry(groupId, index, value));
            break;
          }
          default:
            throw corrupt(`group ${groupId}: unknown record kind ${kind} in ${this.backend.location}`, groupId);
        }
      }
      // Restarting groups load before they write: remember their log bounds if no write raced the read.
      if (epoch === this.epoch && writeSeq === this.writeSeq && writeSeq % 2 === 0) {
        const first = record.entries[0];
        const last = record.entries[record.entries.length - 1];
        this.bounds.set(groupId, first && last ? { first: first.index, last: last.index } : null);
      }
      return record;
    });
  }

  entries(groupId: number, from: number, to: number): Promise<Entry[]> {
    return this.read(async () => {
      checkGroupId(groupId);
      const start = Math.max(0, Math.ceil(from));
      const end = Math.min(INDEX_LIMIT, Math.ceil(to));
      if (!(start < end)) return [];
      const pairs = await this.backend.range(entryKey(groupId, start), entryKey(groupId, end));
      return pairs.map(([key, value]) => {
        const { index } = this.decode(() => parseGroupKey(key), `a log key of group ${groupId}`);
        return this.decodeEntry(groupId, index, value);
      });
    });
  }

  readEntries(groupId: number, from: number, to: number, maxBytes: number): Entry[] {
    if (this.state !== 'open') throw unavailable(`${this.backend.location} is not open`);
    checkGroupId(groupId);
    const out: Entry[] = [];
    let bytes = 0;
    let start = Math.max(0, Math.ceil(from));
    const end = Math.min(INDEX_LIMIT, Math.ceil(to));
    while (start < end) {
      const pairs = this.backend.rangeSync(entryKey(groupId, start), entryKey(groupId, end), Math.min(READ_BACK_CHUNK_ENTRIES, end - start));
      for (const [key, value] of pairs) {
        const { index } = this.decode(() => parseGroupKey(key), `a log key of group ${groupId}`);
        const entry = this.decodeEntry(groupId, index, value);
        out.push(entry);
        bytes += entry.data.length;
        if (bytes > maxBytes) return out;
      }
      if (pairs.length < READ_BACK_CHUNK_ENTRIES) return out;
      start += pairs.length;
    }
    return out;
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.read(() => this.backend.get(metaKey(key)));
  }

  listMeta(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return this.read(async () => {
      const start = metaKey(prefix);
      const pairs = await this.backend.range(start, prefixEnd(start));
      return pairs.map(([key, value]): [string, Uint8Array] => [this.decode(() => metaName(key), 'a metadata key'), value]);
    });
  }

  /** Stop serving at once, as a process that dies would: later calls fail STORAGE_UNAVAILABLE. */
  protected halt(): void {
    this.epoch++;
    this.state = 'closed';
  }

  /**
   * Writes `writes` in one backend write, synced if any of them asks: each batch planned in call
   * order on the log bounds the ones before it left, so together they write what one after the
   * other would. A batch refused as it is planned (an append leaving a gap) fails alone; a
   * failing backend write fails them all, and the store with them (fail-stop).
   */
  private async applyTogether(writes: QueuedWrite[]): Promise<void> {
    const accepted: QueuedWrite[] = [];
    for (const w of writes) {
      try {
        this.checkWritable(w.epoch);
        accepted.push(w);
      } catch (err) {
        w.reject(err);
      }
    }
    if (accepted.length === 0) return;
    // Each batch's groups with log changes, read once: for the bounds to load, and to undo a refused batch's.
    const changed = accepted.map((w) => groupsWithLogChanges(w.batch.ops));
    const bounds = new Map<number, LogBounds>();
    try {
      const groups = new Set<number>();
      for (const set of changed) for (const groupId of set) groups.add(groupId);
      const found = await Promise.all([...groups].map((groupId) => this.logBounds(groupId)));
      [...groups].forEach((groupId, i) => bounds.set(groupId, found[i] ?? null));
    } catch (err) {
      const failed = this.fail(err);
      for (const w of accepted) w.reject(failed);
      return;
    }
    const ops: KvOp[] = [];
    const planned: QueuedWrite[] = [];
    let sync = false;
    for (const [i, w] of accepted.entries()) {
      const before = new Map([...changed[i]!].map((groupId) => [groupId, bounds.get(groupId) ?? null]));
      try {
        for (const op of planWrite(w.batch.ops, bounds)) ops.push(op);
      } catch (err) {
        for (const [groupId, b] of before) bounds.set(groupId, b);
        w.reject(err);
        continue;
      }
      planned.push(w);
      sync ||= w.sync;
    }
    // A sync with nothing to write still has to make earlier unsynced writes durable.
    if (ops.length === 0 && sync) ops.push({ type: 'put', key: VERSION_KEY, value: encodeVersion(FORMAT_VERSION) });
    if (ops.length > 0) {
      try {
        // Closed or halted while the bounds were read (every accepted write is of one epoch).
        this.checkWritable(accepted[0]!.epoch);
      } catch (err) {
        for (const w of planned) w.reject(err);
        return;
      }
      this.writeSeq++;
      try {
        await this.track(this.backend.write(ops, sync));
      } catch (err) {
        const failed = this.fail(err);
        for (const w of planned) w.reject(failed);
        return;
      } finally {
        this.writeSeq++;
      }
    }
    for (const [groupId, b] of bounds) this.bounds.set(groupId, b);
    for (const w of planned) w.resolve();
  }

  private async logBounds(groupId: number): Promise<LogBounds> {
    const known = this.bounds.get(groupId);
    if (known !== undefined) return known;
    const start = groupKey(groupId, RecordKind.Entry);
    const end = groupEnd(groupId);
    const [first] = await this.track(this.backend.range(start, end, { limit: 1 }));
    const [last] = await this.track(this.backend.range(start, end, { limit: 1, reverse: true }));
    if (first === undefined || last === undefined) return null;
    return { first: parseGroupKey(first[0]).index, last: parseGroupKey(last[0]).index };
  }

  private async checkVersion(): Promise<void> {
    const stored = await this.backend.get(VERSION_KEY);
    if (stored === undefined) {
      await this.backend.write([{ type: 'put', key: VERSION_KEY, value: encodeVersion(FORMAT_VERSION) }], true);
      return;
    }
    const version = this.decode(() => decodeVersion(stored), 'the format version record');
    if (version > FORMAT_VERSION) {
      throw new FlotillaError(
        'STORAGE_VERSION',
        `${this.backend.location} was written by storage format version ${version}, but this flotilla ` +
          `reads format version ${FORMAT_VERSION} at most: upgrade flotilla to open it`,
        { version, supported: FORMAT_VERSION },
      );
    }
  }

  /** A write may proceed if the store has not closed or crashed since it was accepted. */
  private checkWritable(epoch: number): void {
    if (epoch !== this.epoch) throw unavailable(`${this.backend.location} was closed`);
    if (this.failure !== null) throw this.failedError();
  }

  private fail(err: unknown): FlotillaError {
    if (this.failure === null) this.failure = err;
    return this.failedError();
  }

  private failedError(): FlotillaError {
    return new FlotillaError(
      'STORAGE_FAILED',
      `${this.backend.location} refuses writes after a write failed: ${describe(this.failure)}`,
      { cause: this.failure },
    );
  }

  /** Runs a read against the backend only while open, and lets close wait for it. */
  private read<T>(run: () => Promise<T>): Promise<T> {
    if (this.state !== 'open') return Promise.reject(unavailable(`${this.backend.location} is not open`));
    return this.track(run());
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    const untrack = (): void => {
      this.inflight.delete(promise);
    };
    promise.then(untrack, untrack);
    return promise;
  }

  private decodeEntry(groupId: number, index: number, value: Uint8Array): Entry {
    try {
      return decodeEntry(index, value);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      throw corrupt(`group ${groupId}: log entry ${index} in ${this.backend.location} cannot be decoded: ${err.message}`, groupId, index);
    }
  }

  private decode<T>(run: () => T, what: string): T {
    try {
      return run();
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      throw new FlotillaError('STORAGE_CORRUPT', `${what} in ${this.backend.location} cannot be decoded: ${err.message}`);
    }
  }
}

function unavailable(message: string): FlotillaError {
  return new FlotillaError('STORAGE_UNAVAILABLE', message);
}

function corrupt(message: string, groupId: number, index?: number): FlotillaError {
  return new FlotillaError('STORAGE_CORRUPT', message, index === undefined ? { groupId } : { groupId, index });
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
