import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import type { Session } from '../../src/group/group.js';
import { decodeGroupSnapshot } from '../../src/group/snapshot-format.js';
import type { MemoryLogStore } from '../../src/storage/memory-store.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { type ListCommand, type ListGroup, TestFleet, waitFor } from '../loop/harness.js';
import { type ListOptions, atLeader, moveLeadership, tuning } from './helpers.js';

const HOSTS = ['a', 'b', 'c'];
const G = 3;

let fleet: TestFleet;
/** Commands each host's machine ran, by host. */
let runs: Map<string, number>;

async function startFleet(options: ListOptions = {}): Promise<Map<string, MemoryLogStore>> {
  fleet = new TestFleet(HOSTS);
  runs = new Map(HOSTS.map((h) => [h, 0]));
  const stores = new Map<string, MemoryLogStore>();
  for (const host of HOSTS) {
    const store = await openLogStore({ engine: 'memory' });
    stores.set(host, store);
    await fleet.startHost(host, store, [G], 'create', tuning({ ...options, onApply: () => runs.set(host, runs.get(host)! + 1) }));
  }
  return stores;
}

async function leader(): Promise<ListGroup> {
  await waitFor('a leader', () => fleet.leader(G) !== undefined);
  return fleet.leader(G)!;
}

function replicas(): ListGroup[] {
  return HOSTS.filter((h) => fleet.groups.has(h)).map((h) => fleet.group(h, G));
}

async function allReplicasHold(values: string[]): Promise<void> {
  await waitFor(`every replica to hold ${values.length} values`, () => replicas().every((g) => g.state.length === values.length));
  for (const g of replicas()) assert.deepEqual(g.state, values);
}

/** Runs a session command at whichever member leads, retrying while leadership moves. */
function sessionCommand(cmd: ListCommand, session: Session): Promise<number> {
  return atLeader(fleet, G, (g) => g.command(cmd, { session }));
}

function append(value: string): ListCommand {
  return { op: 'append', value };
}

function s(clientId: string, seq: number, ackedBelow = 0): Session {
  return { clientId, seq, ackedBelow };
}

afterEach(async () => {
  await fleet.stopAll();
});

describe('client sessions', () => {
  it('applies a command proposed twice with the same session once, and answers both the same', async () => {
    await startFleet();
    await leader();
    const [first, second] = await Promise.all([sessionCommand(append('x'), s('c1', 1)), sessionCommand(append('x'), s('c1', 1))]);
    assert.equal(first, 1);
    assert.equal(second, 1);
    // A retry long after the first reply is answered from the session as well.
    assert.equal(await sessionCommand(append('x'), s('c1', 1)), 1);
    assert.equal(await sessionCommand(append('y'), s('c1', 2, 2)), 2);
    await allReplicasHold(['x', 'y']);
    await waitFor('every replica to run two commands', () => HOSTS.every((h) => runs.get(h) === 2));
    for (const g of replicas()) assert.equal(g.status().sessions, 1);
  });

  it('answers a retry at a new leader from the session, without running it again', async () => {
    await startFleet();
    assert.equal(await sessionCommand(append('x'), s('c1', 1)), 1);
    const old = await leader();
    await moveLeadership(fleet, G, HOSTS.find((h) => h !== old.memberId)!);
    assert.equal(await sessionCommand(append('x'), s('c1', 1)), 1);
    assert.equal(await sessionCommand(append('y'), s('c1', 2, 2)), 2);
    await allReplicasHold(['x', 'y']);
  });

  it('applies once when the first attempt was cut off with its leader and retried elsewhere', async () => {
    await startFleet();
    assert.equal(await sessionCommand(append('first'), s('c1', 1)), 1);
    const old = await leader();
    // The proposal never leaves the isolated leader: its outcome is unknown to the client.
    const lost = old.command(append('x'), { session: s('c1', 2, 2) });
    fleet.isolated.add(old.memberId);
    await waitFor('a new leader', () => (fleet.leader(G)?.term ?? 0) > old.term);
    assert.equal(await sessionCommand(append('x'), s('c1', 2, 2)), 2);
    fleet.isolated.delete(old.memberId);
    await assert.rejects(lost, (err) => isFlotillaError(err, 'NOT_LEADER'));
    // And the retry of the retry, once more everywhere.
    assert.equal(await sessionCommand(append('x'), s('c1', 2, 2)), 2);
    await allReplicasHold(['first', 'x']);
  });

  it('keeps exactly-once across a snapshot and a restart of every host', async () => {
    const stores = await startFleet({ snapshotEvery: 3 });
    const values = Array.from({ length: 10 }, (_, i) => `v${i + 1}`);
    for (let seq = 1; seq <= 10; seq++) assert.equal(await sessionCommand(append(`v${seq}`), s('c1', seq, 1)), seq);
    await allReplicasHold(values);
    await waitFor('snapshots in every store', () => replicas().every((g) => !g.hasWork() && g.raftForTests.compactedTo >= 9));
    const applied = Math.min(...replicas().map((g) => g.appliedIndex));
    await fleet.stopAll();
    for (const [host, store] of stores) {
      store.crash();
      await store.open();
      assert.ok(((await store.loadGroup(G)).snapshot?.meta.index ?? 0) >= 9, `${host} stored a snapshot`);
      await fleet.startHost(host, store, [G], 'restore', tuning({ snapshotEvery: 3, onApply: () => runs.set(host, runs.get(host)! + 1) }));
    }
    // Entries after a host's snapshot are applied again from its log: count runs only after that.
    await waitFor('every host to replay its log', () => replicas().every((g) => g.appliedIndex >= applied));
    for (const h of HOSTS) runs.set(h, 0);
    // Seq 2's entry lies under the snapshot on every host: only the snapshot's sessions know it.
    assert.equal(await sessionCommand(append('v2'), s('c1', 2, 1)), 2);
    assert.equal(await sessionCommand(append('v10'), s('c1', 10, 1)), 10);
    assert.equal(await sessionCommand(append('v11'), s('c1', 11, 1)), 11);
    await allReplicasHold([...values, 'v11']);
    await waitFor('every replica to run only the new command', () => HOSTS.every((h) => runs.get(h) === 1));
  });

  it('gives a follower that installs a snapshot the sessions with it', async () => {
    await startFleet({ snapshotEvery: 3 });
    assert.equal(await sessionCommand(append('v0'), s('c1', 1)), 1);
    const lagging = HOSTS.find((h) => h !== fleet.leader(G)?.memberId)!;
    fleet.isolated.add(lagging);
    for (let seq = 2; seq <= 8; seq++) await sessionCommand(append(`v${seq}`), s('c1', seq, 1));
    fleet.isolated.delete(lagging);
    const caughtUp = (): boolean => fleet.group(lagging, G).appliedIndex >= (fleet.leader(G)?.appliedIndex ?? Infinity);
    await waitFor('the lagging member to install a snapshot', caughtUp);
    assert.ok(runs.get(lagging)! < 8, 'the follower skipped entries by installing a snapshot');
    const before = runs.get(lagging)!;
    await moveLeadership(fleet, G, lagging);
    assert.equal(await sessionCommand(append('v3'), s('c1', 3, 1)), 3);
    assert.equal(runs.get(lagging), before);
  });

  it('discards replies the client acknowledged: retrying one is refused as stale, without running', async () => {
    await startFleet();
    for (let seq = 1; seq <= 3; seq++) await sessionCommand(append(`v${seq}`), s('c1', seq, 1));
    assert.equal(await sessionCommand(append('v4'), s('c1', 4, 3)), 4);
    await assert.rejects(sessionCommand(append('v2'), s('c1', 2, 2)), (err) => {
      assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'));
      assert.equal(err.message, 'stale session sequence');
      return true;
    });
    assert.equal(await sessionCommand(append('v3'), s('c1', 3, 3)), 3);
    await allReplicasHold(['v1', 'v2', 'v3', 'v4']);
    await assert.rejects((await leader()).command(append('v5'), { session: s('c1', 5, 6) }), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
  });

  it('remembers a failed command as its error, answering retries COMMAND_FAILED without running', async () => {
    await startFleet();
    const fail: ListCommand = { op: 'fail', message: 'no such thing' };
    for (let i = 0; i < 2; i++) {
      await assert.rejects(sessionCommand(fail, s('c1', 1)), (err) => {
        assert.ok(isFlotillaError(err, 'COMMAND_FAILED'));
        assert.equal(err.message, 'no such thing');
        return true;
      });
    }
    await waitFor('every replica to run it', () => HOSTS.every((h) => runs.get(h) === 1));
    assert.equal(await sessionCommand(append('x'), s('c1', 2, 2)), 1);
    await waitFor('every replica to run the next', () => HOSTS.every((h) => runs.get(h) === 2));
  });

  it('bounds sessions and replies the same way on every replica', async () => {
    // A snapshot after every apply: once all replicas applied the same index, their snapshots hold their tables.
    await startFleet({ maxSessions: 2, maxRepliesPerSession: 2, snapshotEvery: 1 });
    const workload: Array<[string, number]> = [['a', 1], ['a', 2], ['a', 3], ['b', 1], ['c', 1], ['b', 2], ['b', 3]];
    for (const [client, seq] of workload) await sessionCommand(append(`${client}${seq}`), s(client, seq));
    const sessionTables = (): Uint8Array[] => replicas().map((g) => decodeGroupSnapshot(g.raftForTests.latestSnapshot!.data).sessions);
    const settled = (): boolean => {
      const applied = replicas().map((g) => g.appliedIndex);
      return replicas().every((g) => g.appliedIndex === applied[0] && g.raftForTests.latestSnapshot?.meta.index === applied[0]);
    };
    await waitFor('every replica to snapshot the same index', settled);
    const [first, ...rest] = sessionTables();
    for (const table of rest) assert.deepEqual(table, first);
    for (const g of replicas()) assert.equal(g.status().sessions, 2);

    // Probed at two different leaders: b's oldest reply was dropped, c's is kept, a was evicted.
    const probe = async (): Promise<void> => {
      await assert.rejects(sessionCommand(append('b1'), s('b', 1)), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
      assert.equal(await sessionCommand(append('b2'), s('b', 2)), 6);
      assert.equal(await sessionCommand(append('b3'), s('b', 3)), 7);
      assert.equal(await sessionCommand(append('c1'), s('c', 1)), 5);
    };
    await probe();
    const old = await leader();
    await moveLeadership(fleet, G, HOSTS.find((h) => h !== old.memberId)!);
    await probe();
    // An evicted client is new to the table again: this is the price of the bound.
    assert.equal(await sessionCommand(append('a3'), s('a', 3)), 8);
    await allReplicasHold([...workload.map(([c, n]) => `${c}${n}`), 'a3']);
  });
});
