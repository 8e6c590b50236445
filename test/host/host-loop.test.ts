import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FlotillaError, isFlotillaError } from '../../src/errors.js';
import { HostLoop, type LoopGroup } from '../../src/host/host-loop.js';
import { realScheduler } from '../../src/host/scheduler.js';
import type { Message } from '../../src/raft/types.js';
import type { MemoryLogStore } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, listMachine, waitFor } from './harness.js';

const HOSTS = ['h1', 'h2', 'h3'];

let fleet: TestFleet | undefined;

afterEach(async () => {
  await fleet?.stopAll();
  fleet = undefined;
});

/** Disk writes of opening a store (its format version), before any loop ran. */
const openWrites = new Map<MemoryLogStore, number>();

async function startFleet(groupIds: number[]): Promise<{ fleet: TestFleet; stores: Map<string, MemoryLogStore> }> {
  const f = new TestFleet(HOSTS);
  fleet = f;
  const stores = new Map<string, MemoryLogStore>();
  for (const host of HOSTS) {
    const store = await openLogStore({ engine: 'memory' });
    openWrites.set(store, store.disk.stats.writes);
    stores.set(host, store);
    await f.startHost(host, store, groupIds, 'create');
  }
  return { fleet: f, stores };
}

/** A stand-in group that only counts what the loop asks of it. */
class CountingGroup implements LoopGroup {
  ticks = 0;
  persists = 0;
  constructor(readonly id: number) {}
  bind(): void {}
  tick(): void {
    this.ticks++;
  }
  step(_m: Message): void {}
  hasWork(): boolean {
    return false;
  }
  persist(): Message[] {
    this.persists++;
    return [];
  }
  finish(): void {}
  halt(_error: FlotillaError): void {}
}

describe('host loop', () => {
  it('commits in 100 groups on 3 hosts with one synced store write per loop turn', async () => {
    const groupIds = Array.from({ length: 100 }, (_, i) => i + 1);
    const { fleet: f, stores } = await startFleet(groupIds);
    await waitFor('a leader in every group', () => groupIds.every((id) => f.leader(id) !== undefined));
    const before = [...stores.values()].reduce((n, s) => n + s.disk.stats.writes, 0);
    const replies = await Promise.all(groupIds.map((id) => f.command(id, { op: 'append', value: `g${id}` })));
    assert.deepEqual(replies, groupIds.map(() => 1));
    await waitFor('every replica to apply', () => HOSTS.every((h) => groupIds.every((id) => f.group(h, id).state.length === 1)));
    const during = [...stores.values()].reduce((n, s) => n + s.disk.stats.writes, 0) - before;
    // 100 groups' appends, acknowledgements and commits share a handful of writes per host.
    assert.ok(during < groupIds.length, `${during} writes for ${groupIds.length} groups`);
    for (const host of HOSTS) {
      const store = stores.get(host)!;
      const { writes, syncs } = store.disk.stats;
      const loop = f.loops.get(host)!;
      assert.equal(writes - openWrites.get(store)!, loop.stats.writes, `${host}: every store write is the loop's one write of a turn`);
      assert.equal(syncs, writes, `${host}: every write is synced`);
      assert.ok(loop.stats.writes <= loop.stats.turns);
    }
  });

  it('keeps every acknowledged command across a crash of every host', async () => {
    const groupIds = [1, 2, 3, 4, 5];
    const { fleet: f, stores } = await startFleet(groupIds);
    const acknowledged = new Map<number, string[]>(groupIds.map((id) => [id, []]));
    await Promise.all(
      groupIds.map(async (id) => {
        for (let i = 0; i < 10; i++) {
          await f.command(id, { op: 'append', value: `${id}.${i}` });
          acknowledged.get(id)!.push(`${id}.${i}`);
        }
      }),
    );
    // Power loss everywhere, mid-flight: the loops' stores refuse every further write.
    for (const store of stores.values()) store.crash();
    await f.stopAll();
    for (const [host, store] of stores) {
      await store.open();
      assert.deepEqual((await store.groupIds()).sort((a, b) => a - b), groupIds);
      await f.startHost(host, store, groupIds, 'restore');
    }
    for (const id of groupIds) {
      await waitFor(`group ${id} to replay its log`, () => HOSTS.some((h) => f.group(h, id).state.length >= 10));
      const replayed = HOSTS.map((h) => f.group(h, id).state).find((s) => s.length >= 10)!;
      assert.deepEqual(replayed.slice(0, 10), acknowledged.get(id));
      assert.equal(await f.command(id, { op: 'append', value: 'after' }), 11);
    }
  });

  it('stops on a storage write failure and answers clients STORAGE_FAILED', async () => {
    const { fleet: f, stores } = await startFleet([1]);
    await f.command(1, { op: 'append', value: 'x' });
    const leader = f.leader(1)!;
    const host = leader.raft.id;
    stores.get(host)!.failNextWrite(new Error('disk on fire'));
    await assert.rejects(leader.command({ op: 'append', value: 'y' }), (err) => isFlotillaError(err, 'STORAGE_FAILED'));
    assert.ok(isFlotillaError(f.loops.get(host)!.failed, 'STORAGE_FAILED'));
    await assert.rejects(leader.command({ op: 'append', value: 'z' }), (err) => isFlotillaError(err, 'STORAGE_FAILED'));
    await assert.rejects(leader.query(null), (err) => isFlotillaError(err, 'STORAGE_FAILED'));
  });

  it('stops only the group whose state machine throws outside a command', async () => {
    const f = new TestFleet(['solo']);
    fleet = f;
    const store = await openLogStore({ engine: 'memory' });
    const brokenSnapshots = {
      ...listMachine,
      snapshot(): Uint8Array {
        throw new Error('cannot serialize');
      },
    };
    await f.startHost('solo', store, [1, 2], 'create', (groupId) => (groupId === 1 ? { machine: brokenSnapshots, snapshotEvery: 3 } : {}));
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 5; i++) await f.command(1, { op: 'append', value: `${i}` });
      })(),
      (err) => isFlotillaError(err, 'UNAVAILABLE'),
    );
    for (let i = 0; i < 5; i++) assert.equal(await f.command(2, { op: 'append', value: `${i}` }), i + 1);
    assert.equal(f.loops.get('solo')!.failed, null);
  });

  it('derives ticks from elapsed time, catching up after a pause, and leaves idle groups alone', async () => {
    let now = 0;
    const store = await openLogStore({ engine: 'memory' });
    const writesAtOpen = store.disk.stats.writes;
    const loop = new HostLoop({ store, tickMs: 5, scheduler: { ...realScheduler, now: () => now }, send: () => undefined });
    const groups = [new CountingGroup(1), new CountingGroup(2)];
    for (const g of groups) loop.addGroup(g);
    loop.start();
    now += 5 * 7; // the clock jumped 7 ticks while no timer ran
    await waitFor('7 ticks', () => groups.every((g) => g.ticks === 7));
    now += 5 * 3;
    await waitFor('10 ticks', () => groups.every((g) => g.ticks === 10));
    await loop.stop();
    assert.deepEqual(groups.map((g) => g.persists), [0, 0]);
    assert.equal(store.disk.stats.writes, writesAtOpen);
  });
});
