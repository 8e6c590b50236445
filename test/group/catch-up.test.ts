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
