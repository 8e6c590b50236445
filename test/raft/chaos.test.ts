// Randomized but deterministic runs (fixed seeds) over a hostile network: messages are dropped,
// duplicated and reordered, members are partitioned and restarted, logs are compacted, leadership
// is transferred, the membership changes and reads are taken. The harness checks Raft's safety
// properties after every step (Election Safety, Log Matching, Leader Completeness, State Machine
// Safety); here we also check that every read is answered at an index covering every write
// committed before it was asked, and that the group converges once the faults stop.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { isFlotillaError } from '../../src/common/errors.js';
import { randomInt, seededRandom, type Random } from '../../src/raft/random.js';
import { bytes, Cluster } from './harness.js';

interface ChaosOptions {
  size: number;
  /** Add learners (fresh ids), promote them, remove members (never below three voters). */
  membership: boolean;
  ticks: number;
}

function maxCommitted(h: Cluster): number {
  return Math.max(...[...h.members.values()].map((m) => m.raft.committed));
}

/** Runs the operation, ignoring the refusals a client would simply retry. */
function tryOp(op: () => void): void {
  try {
    op();
  } catch (err) {
    if (isFlotillaError(err, 'NOT_LEADER') || isFlotillaError(err, 'BUSY') || isFlotillaError(err, 'BAD_ARGUMENT')) return;
    throw err;
  }
}

function pick<T>(rand: Random, xs: T[]): T {
  return xs[randomInt(rand, 0, xs.length)]!;
}

function chaos(seed: number, options: ChaosOptions): void {
  const rand = seededRandom(seed);
  const h = new Cluster(['a', 'b', 'c', 'd', 'e'].slice(0, options.size), {
    config: { snapshotChunkBytes: 32, maxAppendBytes: 16, maxInflight: 4 },
    random: (_id, i) => seededRandom(seed * 31 + i),
  });
  /** Per read: the highest commit index anywhere when it was asked. */
  const readFloor = new Map<number, number>();
  let nextRead = 1;
  let commands = 0;
  let fresh = 0;

  for (let t = 0; t < options.ticks; t++) {
    const ids = [...h.members.keys()];
    for (const id of ids) h.tick(id);

    // The network: each message in flight is delivered, dropped, duplicated or held back.
    const batch = h.pool;
    h.pool = [];
    for (const m of batch) {
      const r = rand();
      if (r < 0.1) continue; // lost
      if (r < 0.25) {
        h.pool.push(m); // delayed: delivered in a later round, after newer messages
        continue;
      }
      if (r < 0.3) h.pool.push({ ...m }); // duplicated
      h.pool.push(m);
      h.deliver((x) => x === m);
    }

    // Faults and client operations.
    const r = rand();
    if (r < 0.03) h.isolate(pick(rand, ids));
    else if (r < 0.06) h.heal();
    else if (r < 0.07) h.restart(pick(rand, ids));
    const leader = h.leaderId();
    if (leader !== undefined) {
      const raft = h.raft(leader);
      if (rand() < 0.4) tryOp(() => h.propose(leader, `cmd${commands++}`));
      if (rand() < 0.1) {
        const id = nextRead++;
        readFloor.set(id, maxCommitted(h));
        tryOp(() => h.read(leader, id, { lease: rand() < 0.5 }));
      }
      if (rand() < 0.02) tryOp(() => raft.transferLeadership(pick(rand, ids)));
      if (options.membership && rand() < 0.05) {
        const { voters, learners } = raft.currentMembership;
        const k = rand();
        if (k < 0.35) {
          const id = `n${fresh++}`;
          h.addMember(id);
          tryOp(() => raft.changeMembership({ type: 'addLearner', node: id }));
        } else if (k < 0.7 && learners.length > 0) {
          tryOp(() => raft.changeMembership({ type: 'promote', node: pick(rand, learners) }));
        } else {
          const removable = voters.length > 3 ? [...voters, ...learners] : learners;
          if (removable.length > 0) tryOp(() => raft.changeMembership({ type: 'remove', node: pick(rand, removable) }));
        }
        h.flush();
      }
    }
    if (rand() < 0.05) {
      const m = h.member(pick(rand, ids));
      if (m.appliedIndex > m.raft.compactedTo + 5) h.compact(m.id, m.appliedIndex, randomInt(rand, 0, 3));
    }
  }

  for (const m of h.members.values()) {
    for (const rs of m.readStates) {
      const floor = readFloor.get(rs.requestId);
      assert.ok(floor !== undefined);
      assert.ok(rs.index >= floor, `seed ${seed}: read ${rs.requestId} answered at ${rs.index}, below the commit index ${floor} when it was asked`);
    }
  }

  // The faults stop: the group must elect a leader, commit a new command and converge.
  h.heal();
  h.deliverAll();
  h.run(200, { until: () => h.leaderId() !== undefined });
  assert.ok(h.leaderId() !== undefined, `seed ${seed}: no leader after the faults stopped`);
  let last = 0;
  for (let i = 0; i < 50 && last === 0; i++) {
    tryOp(() => {
      last = h.raft(h.leaderId()!).propose(bytes('final'));
      h.flush();
    });
    h.run(1);
  }
  assert.ok(last > 0, `seed ${seed}: the leader never accepted a command`);
  h.run(60);
  const leader = h.member(h.leaderId()!);
  assert.equal(leader.commands.at(-1), 'final');
  const { voters, learners } = leader.raft.currentMembership;
  for (const id of [...voters, ...learners]) {
    const m = h.member(id);
    assert.equal(m.raft.committed, leader.raft.committed, `seed ${seed}: ${id} committed`);
    assert.deepEqual(m.commands, leader.commands, `seed ${seed}: ${id} applied the same commands`);
  }
}

describe('safety under a hostile network (fixed seeds)', () => {
  for (const size of [3, 5]) {
    test(`§5.4 safety and convergence, ${size} members: drops, duplicates, reordering, partitions, restarts, compaction, transfers, reads`, () => {
      for (let seed = 1; seed <= 25; seed++) chaos(seed, { size, membership: false, ticks: 400 });
    });
  }
  test('§4 safety and convergence with membership changes (learners added, promoted, members removed) on top of the same faults', () => {
    for (let seed = 1; seed <= 15; seed++) chaos(seed, { size: 3, membership: true, ticks: 500 });
  });
});
