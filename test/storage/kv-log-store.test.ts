import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KvBackend, KvOp, KvRangeOptions } from '../../src/storage/kv-backend.js';
import { KvLogStore } from '../../src/storage/kv-log-store.js';
import { MemoryDisk } from '../../src/storage/memory-store.js';
import { entries } from './fixtures/conformance.js';

/** A backend over a memory disk whose range reads can be held back, to force races. */
class GatedBackend implements KvBackend {
  readonly location = 'gated memory';
  readonly disk = new MemoryDisk();
  hold = false;
  readonly held: Array<() => void> = [];

  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.disk.get(key);
  }
  range(gte: Uint8Array, lt: Uint8Array, options?: KvRangeOptions): Promise<Array<[Uint8Array, Uint8Array]>> {
    const result = this.disk.range(gte, lt, options); // read now, answer later
    if (!this.hold) return Promise.resolve(result);
    return new Promise((resolve) => this.held.push(() => resolve(result)));
  }
  rangeSync(gte: Uint8Array, lt: Uint8Array, limit: number): Array<[Uint8Array, Uint8Array]> {
    return this.disk.range(gte, lt, { limit });
  }
  /** Each backend write: its op count and whether it synced. */
  readonly writes: Array<{ ops: number; sync: boolean }> = [];
  async write(ops: KvOp[], sync: boolean): Promise<void> {
    this.writes.push({ ops: ops.length, sync });
    this.disk.write(ops, sync);
  }
}

describe('KvLogStore', () => {
  it('does not remember log bounds from a load that raced a write', async () => {
    const backend = new GatedBackend();
    const store = new KvLogStore(backend);
    await store.open();
    const append = (from: number, to: number): Promise<void> => {
      const batch = store.newBatch();
      batch.appendEntries(1, entries(from, to));
      return store.write(batch, { sync: false });
    };
    await append(1, 5);
    backend.hold = true;
    const load = store.loadGroup(1); // sees 1..5
    backend.hold = false;
    await append(6, 6);
    for (const release of backend.held) release();
    assert.equal((await load).entries.length, 5);
    await append(7, 7); // with bounds remembered from the stale load (last = 5) this is a "gap"
    assert.deepEqual((await store.loadGroup(1)).entries.map((e) => e.index), [1, 2, 3, 4, 5, 6, 7]);
    await store.close();
  });

  it('hands the writes that queued behind one in flight to the backend together, as one after the other would write them', async () => {
    const backend = new GatedBackend();
    const store = new KvLogStore(backend);
    await store.open();
    const appendTo = (groupId: number, from: number, to: number, sync: boolean): Promise<void> => {
      const batch = store.newBatch();
      batch.appendEntries(groupId, entries(from, to));
      return store.write(batch, { sync });
    };
    await appendTo(1, 1, 3, false);
    await appendTo(2, 1, 2, false);
    backend.writes.length = 0;
    // The first goes alone; the four called while it is in flight go together, synced since one
    // asks. Group 1's second append overwrites 3 on the bounds its first left; the gap on group 2
    // fails alone.
    const first = appendTo(1, 4, 4, false);
    await Promise.resolve();
    const queued = [appendTo(1, 5, 6, false), appendTo(1, 3, 3, true), appendTo(2, 5, 5, false), appendTo(3, 1, 2, false)];
    await first;
    const outcomes = await Promise.allSettled(queued);
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'],
    );
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /gap/);
    assert.deepEqual(backend.writes.map((w) => w.sync), [false, true], 'two backend writes: the first, then the rest in one, synced');
    assert.deepEqual((await store.loadGroup(1)).entries.map((e) => e.index), [1, 2, 3], 'the append at 3 dropped 4 to 6, written before it');
    assert.deepEqual((await store.loadGroup(3)).entries.map((e) => e.index), [1, 2]);
    assert.deepEqual((await store.loadGroup(2)).entries.map((e) => e.index), [1, 2], 'the refused append wrote nothing');
    // The store goes on: the refused batch did not stop it.
    await appendTo(2, 3, 3, false);
    assert.deepEqual((await store.loadGroup(2)).entries.map((e) => e.index), [1, 2, 3]);
    await store.close();
  });
});
