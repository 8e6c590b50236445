// The rule that finds a data directory older than what a peer has seen (fleet/generation.ts), and
// its durable side (fleet/generation-keeper.ts) on a memory disk.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { judge, type DataGeneration, type PeerRecord } from '../../src/fleet/generation.js';
import { GenerationKeeper, type KeeperOptions } from '../../src/fleet/generation-keeper.js';
import { MemoryDisk, MemoryLogStore } from '../../src/storage/memory-store.js';

const record: PeerRecord = { incarnation: 'dir-a', process: 7, generation: 10 };

function presented(fields: Partial<DataGeneration>): DataGeneration {
  return { incarnation: 'dir-a', process: 8, floor: 10, current: 12, ...fields };
}

describe('judge', () => {
  it('accepts and records a peer it has no record of', () => {
    assert.deepEqual(judge(undefined, presented({})), { verdict: { stale: false, recorded: 0, process: 8 }, record: { incarnation: 'dir-a', process: 8, generation: 12 } });
  });

  it('follows the process it accepted as it advances, and never goes back', () => {
    assert.deepEqual(judge(record, presented({ process: 7, floor: 3, current: 11 })).record, { ...record, generation: 11 });
    assert.equal(judge(record, presented({ process: 7, floor: 3, current: 9 })).record, record);
  });

  it('accepts a new process whose floor reaches what was heard (a restart)', () => {
    const { verdict, record: next } = judge(record, presented({ floor: 10, current: 10 }));
    assert.deepEqual(verdict, { stale: false, recorded: 10, process: 8 });
    assert.deepEqual(next, { incarnation: 'dir-a', process: 8, generation: 10 });
  });

  it('finds stale a new process whose floor is below what was heard (a copy put back), and keeps the record', () => {
    assert.deepEqual(judge(record, presented({ floor: 9, current: 9 })), { verdict: { stale: true, recorded: 10, process: 8 }, record });
  });

  it('leaves another data directory under that host id to the cluster group', () => {
    assert.deepEqual(judge(record, presented({ incarnation: 'dir-b', floor: 0, current: 0 })), { verdict: { stale: false, recorded: 0, process: 8 }, record });
  });

  it('refuses a floor above the current generation', () => {
    assert.throws(() => judge(record, presented({ floor: 13, current: 12 })), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
  });
});

describe('GenerationKeeper', () => {
  let nextProcess = 100;
  const options = (extra: Partial<KeeperOptions> = {}): KeeperOptions => ({ host: 'h2', incarnation: 'dir-a', acceptStale: false, newProcess: () => nextProcess++, ...extra });
  const open = async (disk: MemoryDisk, extra: Partial<KeeperOptions> = {}): Promise<{ keeper: GenerationKeeper; store: MemoryLogStore }> => {
    const store = new MemoryLogStore(disk);
    await store.open();
    return { keeper: await GenerationKeeper.load(store, options(extra)), store };
  };

  it('starts a directory without a generation at 0, and advances only once half its peers accepted it', async () => {
    const { keeper } = await open(new MemoryDisk());
    assert.deepEqual([keeper.presented().floor, keeper.presented().current], [0, 0]);
    await keeper.advance(['h1', 'h3', 'h4']);
    assert.equal(keeper.presented().current, 0, 'nobody accepted it yet');
    keeper.accepted('h1');
    await keeper.advance(['h1', 'h3', 'h4']);
    assert.equal(keeper.presented().current, 0, 'one of three');
    keeper.accepted('h3');
    await keeper.advance(['h1', 'h3', 'h4']);
    await keeper.advance(['h1', 'h3', 'h4', 'h5', 'h6']);
    assert.deepEqual([keeper.presented().floor, keeper.presented().current], [0, 2], 'verified for good');
    await keeper.advance([]);
    assert.equal(keeper.presented().current, 3);
  });

  it('presents a restart the generation it reached, and keeps the peers it recorded', async () => {
    const disk = new MemoryDisk();
    const first = await open(disk);
    first.keeper.accepted('h1');
    for (let i = 0; i < 3; i++) await first.keeper.advance(['h1']);
    first.keeper.keep('h1', { incarnation: 'dir-1', process: 5, generation: 33 });
    await first.keeper.advance(['h1']);
    assert.deepEqual(first.keeper.status(), { floor: 0, current: 4, peers: { h1: 33 } });
    first.store.crash();
    const again = await open(disk);
    const p = again.keeper.presented();
    assert.deepEqual([p.floor, p.current], [4, 4]);
    assert.notEqual(p.process, first.keeper.presented().process);
    assert.deepEqual(again.keeper.record('h1'), { incarnation: 'dir-1', process: 5, generation: 33 });
  });

  it('refuses every start of a directory marked stale, unless told to accept it (then it takes the recorded generation)', async () => {
    const disk = new MemoryDisk();
    const first = await open(disk);
    await first.keeper.markStale('h3', 57);
    first.store.crash();
    const store = new MemoryLogStore(disk);
    await store.open();
    await assert.rejects(GenerationKeeper.load(store, options()), (err) => isFlotillaError(err, 'STORAGE_STALE') && err.details.peer === 'h3' && err.details.recorded === 57);
    const accepted = await GenerationKeeper.load(store, options({ acceptStale: true }));
    assert.deepEqual([accepted.presented().floor, accepted.presented().current], [57, 57]);
    store.crash();
    const later = await open(disk);
    assert.equal(later.keeper.presented().floor, 57, 'the mark is gone and the generation kept');
  });

  it('rebases on a recorded generation above its floor, under a new process id', async () => {
    const { keeper } = await open(new MemoryDisk());
    const before = keeper.presented();
    await keeper.rebase(0);
    assert.deepEqual(keeper.presented(), before, 'nothing to adopt');
    await keeper.rebase(20);
    const after = keeper.presented();
    assert.deepEqual([after.floor, after.current], [20, 20]);
    assert.notEqual(after.process, before.process);
  });
});
