import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryDisk, MemoryLogStore } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { entries, logStoreConformance, rejectsWith } from './fixtures/conformance.js';

logStoreConformance({
  name: 'memory',
  async newPlace() {
    const disk = new MemoryDisk('test');
    return {
      store: () => new MemoryLogStore(disk),
      async putRaw(key, value) {
        disk.write([{ type: 'put', key, value }], true);
      },
      async dispose() {},
    };
  },
});

async function lastIndexes(store: MemoryLogStore, group: number): Promise<number[]> {
  return (await store.loadGroup(group)).entries.map((e) => e.index);
}

describe('memory engine durability model', () => {
  it('loses unsynced writes in a crash and keeps synced ones', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const write = async (from: number, to: number, sync: boolean): Promise<void> => {
      const batch = store.newBatch();
      batch.appendEntries(1, entries(from, to));
      await store.write(batch, { sync });
    };
    await write(1, 2, false);
    await write(3, 3, true); // makes 1..3 durable
    await write(4, 5, false);
    assert.deepEqual(await lastIndexes(store, 1), [1, 2, 3, 4, 5]);
    store.crash();
    await store.open();
    assert.deepEqual(await lastIndexes(store, 1), [1, 2, 3]);

    // An empty sync write makes earlier unsynced writes durable.
    await write(4, 4, false);
    await store.write(store.newBatch(), { sync: true });
    store.crash();
    await store.open();
    assert.deepEqual(await lastIndexes(store, 1), [1, 2, 3, 4]);
    await store.close();
  });

  it('a clean close keeps unsynced writes until a crash drops them', async () => {
    const disk = new MemoryDisk();
    const store = await openLogStore({ engine: 'memory', disk });
    const batch = store.newBatch();
    batch.appendEntries(1, entries(1, 1));
    await store.write(batch, { sync: false });
    await store.close();
    const next = await openLogStore({ engine: 'memory', disk });
    assert.deepEqual(await lastIndexes(next, 1), [1]);
    next.crash();
    const after = await openLogStore({ engine: 'memory', disk });
    assert.deepEqual(await lastIndexes(after, 1), []);
  });

  it('a write pending at the crash never lands, not even after a reopen', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const batch = store.newBatch();
    batch.appendEntries(1, entries(1, 1));
    const pending = store.write(batch, { sync: true });
    store.crash();
    await store.open();
    await rejectsWith(pending, 'STORAGE_UNAVAILABLE');
    assert.deepEqual(await lastIndexes(store, 1), []);
    await rejectsWith(new MemoryLogStore(store.disk).open(), 'STORAGE_UNAVAILABLE', /in use/);
    await store.close();
  });

  it('is fail-stop after an injected write error', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const first = store.newBatch();
    first.appendEntries(1, entries(1, 2));
    await store.write(first, { sync: true });

    store.failNextWrite(new Error('EIO: disk on fire'));
    const failing = store.newBatch();
    failing.appendEntries(1, entries(3, 3));
    failing.setMeta('k', new Uint8Array(1));
    await rejectsWith(store.write(failing, { sync: true }), 'STORAGE_FAILED', /disk on fire/);

    // Every later write is refused, naming the original error; reads still work.
    const later = store.newBatch();
    later.setApplied(1, 1);
    await rejectsWith(store.write(later, { sync: false }), 'STORAGE_FAILED', /disk on fire/);
    await rejectsWith(store.write(store.newBatch(), { sync: true }), 'STORAGE_FAILED', /disk on fire/);
    assert.deepEqual(await lastIndexes(store, 1), [1, 2]);
    assert.equal(await store.getMeta('k'), undefined);

    // A restart (the process was meant to stop) starts clean.
    await store.close();
    await store.open();
    await store.write(later, { sync: true });
    assert.equal((await store.loadGroup(1)).applied, 1);
    await store.close();
  });

  it('counts batches and syncs', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const base = { ...store.disk.stats };
    for (const sync of [false, true, true]) {
      const batch = store.newBatch();
      batch.setApplied(1, 1);
      await store.write(batch, { sync });
    }
    assert.deepEqual(store.disk.stats, { writes: base.writes + 3, syncs: base.syncs + 2 });
    await store.close();
  });

  it('hands out copies, so callers cannot change stored data', async () => {
    const store = await openLogStore({ engine: 'memory' });
    const value = Uint8Array.of(1, 2, 3);
    const batch = store.newBatch();
    batch.setMeta('k', value);
    value[0] = 9;
    await store.write(batch, { sync: true });
    const read = await store.getMeta('k');
    assert.deepEqual(read, Uint8Array.of(1, 2, 3));
    if (read) read[1] = 9;
    assert.deepEqual(await store.getMeta('k'), Uint8Array.of(1, 2, 3));
    await store.close();
  });
});
