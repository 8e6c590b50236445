// A member added to a group with a long write history is caught up from the leader's snapshot plus
// at most about maxLogBytes of entries (issue 16 point 4), not by the whole log: the log behind the
// last snapshot is bounded by bytes. Without the byte bound (only snapshotEvery, far away), the
// same member gets every entry by appends: the contrast shows the test can tell them apart.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { ENTRY_OVERHEAD_BYTES } from '../../src/group/snapshot-schedule.js';
import type { StateMachine } from '../../src/group/state-machine.js';
import { MessageType } from '../../src/raft/types.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, listMachine, waitFor, type ListCommand } from '../loop/harness.js';
import { atLeader, tuning } from './helpers.js';

const G = 5;
const WRITES = 600;
const VALUE = 'x'.repeat(200);
const MAX_LOG_BYTES = 8 * 1024;

let fleet: TestFleet;

/** A machine with a small state whatever the history: the count of writes and the last one. */
const lastWrite: StateMachine<string[], ListCommand, number, null> = {
  ...listMachine,
  init: () => ['0', ''],
  command(state, cmd) {
    if (cmd.op === 'fail') throw new Error(cmd.message);
    const n = Number(state[0]) + 1;
    return { state: [String(n), cmd.value], reply: n };
  },
};
const writes = (state: string[]): number => Number(state[0] ?? 0);

afterEach(async () => {
  await fleet.stopAll();
});

interface Delivered {
  appendedEntries: number;
  snapshotChunks: number;
  /** Commands the new member applied from its log (not from a snapshot). */
  applied: number;
}

/** Writes the history to a 3-member group, adds a fourth member as a learner, waits until it holds the whole state. */
async function addMemberAfterHistory(maxLogBytes: number | undefined, machine = lastWrite): Promise<Delivered> {
  fleet = new TestFleet(['a', 'b', 'c']);
  const delivered: Delivered = { appendedEntries: 0, snapshotChunks: 0, applied: 0 };
  const options = (host: string) => tuning({ machine, ...(maxLogBytes === undefined ? {} : { maxLogBytes }), onApply: () => void (host === 'd' && delivered.applied++) });
  for (const host of fleet.hosts) await fleet.startHost(host, await openLogStore({ engine: 'memory' }), [G], 'create', options(host));
  for (let i = 0; i < WRITES; i += 50) {
    await Promise.all(Array.from({ length: 50 }, (_, k) => fleet.command(G, { op: 'append', value: `${VALUE}${i + k}` })));
  }
  // The new member: an empty store, as a host prepares one, and every message to it counted.
  const loop = await fleet.startHost('d', await openLogStore({ engine: 'memory' }), [G], 'restore', options('d'));
  const step = loop.step.bind(loop);
  loop.step = (groupId, m) => {
    if (m.type === MessageType.Append) delivered.appendedEntries += m.entries.length;
    if (m.type === MessageType.Snapshot) delivered.snapshotChunks++;
    step(groupId, m);
  };
  await atLeader(fleet, G, (g) => g.changeMembership({ type: 'addLearner', node: 'd' }));
  const leaderState = () => fleet.leader(G)?.state ?? [];
  const count = machine === lastWrite ? writes : (state: string[]) => state.length;
  await waitFor('the new member to hold every write', () => count(fleet.group('d', G).state) === WRITES && count(leaderState()) === WRITES);
  assert.deepEqual(fleet.group('d', G).state, leaderState());
  return delivered;
}

describe('catching up a new member', () => {
  it('sends the leader s snapshot and at most about maxLogBytes of entries, not the whole log', async () => {
    const d = await addMemberAfterHistory(MAX_LOG_BYTES);
    // Each write counts its data (the envelope's ~220 bytes) plus the overhead toward the bound.
    const perEntry = VALUE.length + ENTRY_OVERHEAD_BYTES;
    const bound = Math.ceil(MAX_LOG_BYTES / perEntry) + 2; // the log behind the last snapshot, the config change and no-op
    assert.ok(d.snapshotChunks >= 1, `caught up by a snapshot: ${JSON.stringify(d)}`);
    assert.ok(d.appendedEntries <= bound, `at most ~maxLogBytes of entries appended (${bound}): ${JSON.stringify(d)}`);
    assert.ok(d.applied <= bound, `applied from the log at most ${bound} commands: ${JSON.stringify(d)}`);
  });

  it('bounds the log by the snapshot size instead when the state is larger than maxLogBytes', async () => {
    // The list machine's state holds every write (~130 KB at the end): snapshots come once the log
    // since the last one is as large as it, so the log behind it is at most about that large.
    const d = await addMemberAfterHistory(MAX_LOG_BYTES, listMachine);
    const stateBytes = JSON.stringify(fleet.group('d', G).state).length;
    const bound = Math.ceil(stateBytes / (VALUE.length + ENTRY_OVERHEAD_BYTES)) + 2;
    assert.ok(d.snapshotChunks >= 1 && d.appendedEntries <= bound && d.appendedEntries < WRITES / 2, `${bound}: ${JSON.stringify(d)}`);
  });

  it('without the byte bound (snapshotEvery far away) sends the whole log', async () => {
    const d = await addMemberAfterHistory(Number.MAX_SAFE_INTEGER);
    assert.equal(d.snapshotChunks, 0, JSON.stringify(d));
    assert.ok(d.appendedEntries >= WRITES, JSON.stringify(d));
    assert.equal(d.applied, WRITES, JSON.stringify(d));
  });
});

interface SlowRun {
  lost: number;
  snapshots: number;
  /** The slow follower's own latest snapshot: the byte rule fired. */
  snapshotAt: number;
  /** One leader, in one term, throughout (a new leader starts without its followers' progress). */
  oneLeader: boolean;
}

/** 1000 writes to a group whose follower `slow` gets its appends 5 ms late and loses one in 10. */
async function slowFollowerRun(): Promise<SlowRun> {
  fleet = new TestFleet(['a', 'b', 'c']);
  for (const host of fleet.hosts) await fleet.startHost(host, await openLogStore({ engine: 'memory' }), [G], 'create', tuning({ machine: lastWrite, maxLogBytes: 128 * 1024 }));
  await fleet.command(G, { op: 'append', value: 'first' });
  const leader = fleet.leader(G)!;
  const term = leader.term;
  const slow = fleet.hosts.find((h) => h !== leader.memberId)!;
  const loop = fleet.loops.get(slow)!;
  const step = loop.step.bind(loop);
  const run: SlowRun = { lost: 0, snapshots: 0, snapshotAt: 0, oneLeader: false };
  let appends = 0;
  loop.step = (groupId, m) => {
    if (m.type === MessageType.Snapshot) run.snapshots++;
    if (m.type !== MessageType.Append || m.entries.length === 0) return step(groupId, m);
    if (++appends % 10 === 0) return void run.lost++;
    setTimeout(() => step(groupId, m), 5);
  };
  const lastIndex = (host: string): number => fleet.group(host, G).raftForTests.status().lastIndex;
  for (let i = 0; i < 1000; i += 20) {
    await Promise.all(Array.from({ length: 20 }, (_, k) => fleet.command(G, { op: 'append', value: `${VALUE}${i + k}` })));
    // At most a couple of rounds behind, however loaded the machine: the lag this test is about.
    await waitFor('the slow follower within 40 entries of its leader', () => lastIndex(slow) >= lastIndex(leader.memberId) - 40);
  }
  await waitFor('the slow follower to hold every write', () => writes(fleet.group(slow, G).state) === 1001);
  run.snapshotAt = fleet.group(slow, G).raftForTests.latestSnapshot?.meta.index ?? 0;
  run.oneLeader = fleet.leader(G) === leader && leader.term === term;
  return run;
}

describe('a follower behind its leader by a round', () => {
  it('falling back to probing (a lost append) gets appends, not a snapshot: the leader keeps the entries it lacks behind a snapshot', async () => {
    // It lags by what the others commit in a round or two (at most 40 entries: the writer waits
    // for it), below maxLogBytes (a snapshot every ~280 entries). Each lost append makes it refuse the next (a gap), and the
    // leader probes back from what it holds. A loaded machine may elect again meanwhile, and a
    // new leader does not know how far its followers are: then the run is repeated.
    let run = await slowFollowerRun();
    for (let attempt = 1; !run.oneLeader && attempt < 3; attempt++) {
      await fleet.stopAll();
      run = await slowFollowerRun();
    }
    assert.ok(run.oneLeader && run.lost >= 1 && run.snapshotAt > 0, JSON.stringify(run));
    assert.equal(run.snapshots, 0, `the slow follower got snapshot chunks: ${JSON.stringify(run)}`);
  });
});
