// A LogStore whose fsync takes virtual time. A write reaches the host's MemoryDisk at once, but
// unsynced; it becomes durable `syncDelayMs()` later (0: at once), and only then does write()
// resolve. A host that crashes in between loses it (MemoryDisk.crash), as a real host loses a
// write whose fsync had not returned, and the host loop's turn waiting on it never sends or
// applies anything.

import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import type { Entry } from '../raft/types.js';
import type { GroupRecord, LogStore, WriteBatch } from '../storage/log-store.js';
import type { MemoryLogStore } from '../storage/memory-store.js';

export class SimLogStore implements LogStore {
  /** Syncs complete one at a time, in call order, as with one WAL. */
  private syncTail: Promise<void> = Promise.resolve();
  /** Fails the writes waiting for their sync when the host crashes. */
  private readonly waiting = new Set<(err: Error) => void>();

  constructor(
    readonly inner: MemoryLogStore,
    private readonly scheduler: Scheduler,
    private readonly syncDelayMs: () => number,
  ) {}

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  newBatch(): WriteBatch {
    return this.inner.newBatch();
  }

  async write(batch: WriteBatch, options: { sync: boolean }): Promise<void> {
    await this.inner.write(batch, { sync: false });
    if (options.sync) await this.sync();
  }

  groupIds(): Promise<number[]> {
    return this.inner.groupIds();
  }

  loadGroup(groupId: number): Promise<GroupRecord> {
    return this.inner.loadGroup(groupId);
  }

  entries(groupId: number, from: number, to: number): Promise<Entry[]> {
    return this.inner.entries(groupId, from, to);
  }

  readEntries(groupId: number, from: number, to: number, maxBytes: number): Entry[] {
    return this.inner.readEntries(groupId, from, to, maxBytes);
  }

  getMeta(key: string): Promise<Uint8Array | undefined> {
    return this.inner.getMeta(key);
  }

  listMeta(prefix: string): Promise<Array<[string, Uint8Array]>> {
    return this.inner.listMeta(prefix);
  }

  /** Power loss: unsynced writes are gone, and writes waiting for their sync fail. */
  crash(): void {
    this.inner.crash();
    const err = new FlotillaError('STORAGE_UNAVAILABLE', `${this.inner.disk.name}: the host crashed`);
    for (const fail of this.waiting) fail(err);
    this.waiting.clear();
  }

  private sync(): Promise<void> {
    const delay = this.syncDelayMs();
    const done = this.syncTail
      .then(() => (delay > 0 ? this.wait(delay) : undefined))
      // An empty synced batch makes every earlier write durable.
      .then(() => this.inner.write(this.inner.newBatch(), { sync: true }));
    this.syncTail = done.catch(() => undefined);
    return done;
  }

  private wait(ms: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.add(reject);
      this.scheduler.after(ms, () => {
        this.waiting.delete(reject);
        resolve();
      });
    });
  }
}
