import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FlotillaError, isFlotillaError } from '../../src/common/errors.js';
import type { Outcome } from '../../src/group/group.js';
import { Role } from '../../src/raft/types.js';
import { MemoryLogStore } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, waitFor } from '../loop/harness.js';

const HOSTS = ['a', 'b', 'c'];
const G = 7;

let fleet: TestFleet;

async function startFleet(tuning: Parameters<TestFleet['startHost']>[4] = {}): Promise<Map<string, MemoryLogStore>> {
  fleet = new TestFleet(HOSTS);
  const stores = new Map<string, MemoryLogStore>();
  for (const host of HOSTS) {
    const store = await openLogStore({ engine: 'memory' });
    stores.set(host, store);
    await fleet.startHost(host, store, [G], 'create', tuning);
  }
  return stores;
}

function states(): string[][] {
  return HOSTS.filter((h) => fleet.groups.has(h)).map((h) => fleet.group(h, G).state);
}

async function allReplicasHold(n: number): Promise<void> {
  await waitFor(`every replica to hold ${n} values`, () => states().every((s) => s.length === n));
}

afterEach(async () => {
  await fleet.stopAll();
});

describe('group', () => {
  it('elects one leader and applies commands in order on every replica', async () => {
    await startFleet();
    await waitFor('a leader', () => fleet.leader(G) !== undefined);
    const values = Array.from({ length: 20 }, (_, i) => `v${i}`);
    // One at a time through whoever leads (a loaded machine may move leadership meanwhile; a
    // command refused NOT_LEADER was not applied, so sending it again is safe).
    const replies: number[] = [];
    for (const value of values) replies.push(await fleet.command(G, { op: 'append', value }));
    assert.deepEqual(replies, values.map((_, i) => i + 1));
    await allReplicasHold(20);
    for (const s of states()) assert.deepEqual(s, values);
    assert.equal(HOSTS.filter((h) => fleet.group(h, G).role === Role.Leader).length, 1);
  });

  it('a replica halted with a command in its log answers that command TIMEOUT (outcome unknown), not its halt error', async () => {
    await startFleet();
    await waitFor('a leader', () => fleet.leader(G) !== undefined);
    const leader = fleet.leader(G)!;
    const pending = leader.command({ op: 'append', value: 'x' });
    // Proposed (in the log, on its way to the followers) but not yet committed: the replica leaves.
    leader.halt(new FlotillaError('NOT_LEADER', 'group left this host', { leader: '' }));
    await assert.rejects(pending, (err) => isFlotillaError(err, 'TIMEOUT'));
    await assert.rejects(leader.query(null), (err) => isFlotillaError(err, 'NOT_LEADER'));
  });

  it('turns a throwing command into COMMAND_FAILED on every replica and keeps working', async () => {
    const seen = new Map<string, Outcome<unknown>[]>();
    fleet = new TestFleet(HOSTS);
    for (const host of HOSTS) {
      seen.set(host, []);
      const store = await openLogStore({ engine: 'memory' });
      await fleet.startHost(host, store, [G], 'create', { onApply: (_index, outcome) => seen.get(host)!.push(outcome) });
    }
    await fleet.command(G, { op: 'append', value: 'x' });
    await assert.rejects(fleet.command(G, { op: 'fail', message: 'no such thing' }), (err) => {
      assert.ok(isFlotillaError(err, 'COMMAND_FAILED'));
      assert.equal(err.message, 'no such thing');
      return true;
    });
    assert.equal(await fleet.command(G, { op: 'append', value: 'y' }), 2);
    await allReplicasHold(2);
    for (const host of HOSTS) {
      assert.deepEqual(seen.get(host), [
        { ok: true, reply: 1 },
        { ok: false, error: 'no such thing' },
        { ok: true, reply: 2 },
      ]);
    }
  });

  it('refuses a command with BUSY when the proposal queue is full', async () => {
    await startFleet({ maxPendingCommands: 4 });
    await waitFor('a leader', () => fleet.leader(G) !== undefined);
    const leader = fleet.leader(G)!;
    const accepted = [1, 2, 3, 4].map((i) => leader.command({ op: 'append', value: `v${i}` }));
    await assert.rejects(leader.command({ op: 'append', value: 'v5' }), (err) => isFlotillaError(err, 'BUSY'));
    assert.deepEqual(await Promise.all(accepted), [1, 2, 3, 4]);
    // The queue drains as commands apply.
    assert.equal(await leader.command({ op: 'append', value: 'v5' }), 5);
  });

  it('answers linearizable queries at the leader and NOT_LEADER elsewhere', async () => {
    await startFleet();
    await fleet.command(G, { op: 'append', value: 'x' });
    const leader = fleet.leader(G)!;
    assert.equal(await leader.query(null), 1);
    const follower = HOSTS.map((h) => fleet.group(h, G)).find((g) => g !== leader)!;
    await assert.rejects(follower.query(null), (err) => isFlotillaError(err, 'NOT_LEADER'));
  });

  it('fails a query with NOT_LEADER when its leader loses leadership before confirming it', async () => {
    await startFleet();
    await fleet.command(G, { op: 'append', value: 'x' });
    const leader = fleet.leader(G)!;
    const leaderHost = leader.memberId;
    fleet.isolated.add(leaderHost);
    const read = leader.query(null);
    await assert.rejects(read, (err) => isFlotillaError(err, 'NOT_LEADER'));
    fleet.isolated.delete(leaderHost);
  });

  it('snapshots every N entries, compacts the log, and restarts from the snapshot', async () => {
    const stores = await startFleet({ snapshotEvery: 5 });
    const values = Array.from({ length: 23 }, (_, i) => `v${i}`);
    for (const value of values) await fleet.command(G, { op: 'append', value });
    await allReplicasHold(23);
    await waitFor('every replica to store a snapshot', () => HOSTS.every((h) => fleet.group(h, G).raftForTests.compactedTo >= 20));
    // The snapshot reaches the store in the turn after it was taken.
    await waitFor('snapshots in every store', () => HOSTS.every((h) => !fleet.group(h, G).hasWork()));
    await fleet.stopAll();
    for (const [host, store] of stores) {
      store.crash();
      await store.open();
      const record = await store.loadGroup(G);
      assert.ok(record.snapshot !== null && record.snapshot.meta.index >= 20, `${host} stored a snapshot`);
      assert.ok((record.entries[0]?.index ?? Infinity) > record.snapshot.meta.index, `${host} compacted its stored log`);
      await fleet.startHost(host, store, [G], 'restore', { snapshotEvery: 5 });
    }
    // A commit index is written without a sync: a replica learns the last ones back from the leader.
    await waitFor('every replica to apply everything again', () => states().every((s) => s.length === values.length));
    for (const s of states()) assert.deepEqual(s, values);
    assert.equal(await fleet.command(G, { op: 'append', value: 'after' }), 24);
  });

  it('keeps keepEntries entries behind its snapshot in the store, and has them after a restart', async () => {
    const tuning = { snapshotEvery: 5, keepEntries: 4 };
    const stores = await startFleet(tuning);
    const values = Array.from({ length: 12 }, (_, i) => `v${i}`);
    for (const value of values) await fleet.command(G, { op: 'append', value });
    await allReplicasHold(12);
    const stored = (h: string): boolean => fleet.group(h, G).raftForTests.latestSnapshot !== null && !fleet.group(h, G).hasWork();
    await waitFor('snapshots in every store', () => HOSTS.every(stored));
    await fleet.stopAll();
    for (const [host, store] of stores) {
      store.crash();
      await store.open();
      const record = await store.loadGroup(G);
      const snapIndex = record.snapshot?.meta.index ?? 0;
      assert.ok(snapIndex >= 5, `${host} stored a snapshot`);
      assert.equal(record.entries[0]?.index, snapIndex - 3, `${host} stored the 4 entries behind its snapshot`);
      await fleet.startHost(host, store, [G], 'restore', tuning);
      const raft = fleet.group(host, G).raftForTests;
      assert.equal(raft.compactedTo, snapIndex - 4);
      assert.ok(raft.entryAt(snapIndex - 3) !== undefined, `${host} holds the kept entries in memory again`);
    }
    await allReplicasHold(12);
    for (const s of states()) assert.deepEqual(s, values);
    assert.equal(await fleet.command(G, { op: 'append', value: 'after' }), 13);
  });

  it('brings a lagging follower up to date with a snapshot, which survives its restart', async () => {
    const applies = new Map<string, number>(HOSTS.map((h) => [h, 0]));
    fleet = new TestFleet(HOSTS);
    const stores = new Map<string, MemoryLogStore>();
    for (const host of HOSTS) {
      const store = await openLogStore({ engine: 'memory' });
      stores.set(host, store);
      await fleet.startHost(host, store, [G], 'create', { snapshotEvery: 5, onApply: () => applies.set(host, applies.get(host)! + 1) });
    }
    await fleet.command(G, { op: 'append', value: 'first' });
    const lagging = HOSTS.find((h) => fleet.group(h, G).role !== Role.Leader)!;
    fleet.isolated.add(lagging);
    const values = ['first', ...Array.from({ length: 15 }, (_, i) => `v${i}`)];
    for (const value of values.slice(1)) await fleet.command(G, { op: 'append', value });
    fleet.isolated.delete(lagging);
    await allReplicasHold(16);
    assert.deepEqual(fleet.group(lagging, G).state, values);
    assert.ok(applies.get(lagging)! < values.length, 'the follower skipped entries by installing a snapshot');
    await waitFor('the lagging store to settle', () => !fleet.group(lagging, G).hasWork());
    await fleet.stopHost(lagging);
    const store = stores.get(lagging)!;
    store.crash();
    await store.open();
    assert.ok((await store.loadGroup(G)).snapshot !== null, 'the installed snapshot is stored');
    await fleet.startHost(lagging, store, [G], 'restore', { snapshotEvery: 5 });
    // Restored from the snapshot before any log replay or contact with the others.
    const restored = fleet.group(lagging, G).state;
    assert.ok(restored.length >= 10);
    assert.deepEqual(restored, values.slice(0, restored.length));
    await allReplicasHold(16);
    assert.deepEqual(fleet.group(lagging, G).state, values);
  });
});
