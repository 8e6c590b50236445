// tick(n) against n calls of tick(): a driver hands a member the ticks it held back in one call (the
// host loop does, waking a member only when ticksUntilDue() says a timer can fire), and the member
// must end up exactly where ticking it one at a time leaves it. Two clusters built alike take the
// same seeded sequence of inputs, one ticking one at a time, the other in one call; after every
// input their members' whole state and the messages in flight must be equal.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { FlotillaError } from '../../src/common/errors.js';
import { randomInt, seededRandom, type Random } from '../../src/raft/random.js';
import type { Raft } from '../../src/raft/raft.js';
import { Cluster, type ConfigOverrides } from './harness.js';

const IDS = ['a', 'b', 'c'];

/** A member's whole state, its randomness aside (Maps as their entries). */
function stateOf(raft: Raft): string {
  return JSON.stringify(raft, (key, value: unknown) => (key === 'cfg' ? undefined : value instanceof Map ? [...value.entries()] : value instanceof Set ? [...value] : value));
}

function twins(seed: number): { config: ConfigOverrides; one: Cluster; batched: Cluster } {
  const draw = seededRandom(seed);
  const heartbeatTick = randomInt(draw, 1, 4);
  const electionTick = heartbeatTick + randomInt(draw, 2, 12);
  const quiesce = draw() < 0.5;
  const config: ConfigOverrides = {
    heartbeatTick,
    electionTick,
    checkQuorum: draw() < 0.7,
    broadcastCommit: draw() < 0.5,
    preVote: true,
    quiesceAfterTicks: quiesce ? randomInt(draw, 2, 8) : 0,
  };
  // Every member draws its randomized timeouts from its own seeded source, alike in both clusters.
  const random = (id: string): Random => seededRandom(seed * 31 + id.charCodeAt(0));
  return { config, one: new Cluster(IDS, { config, random }), batched: new Cluster(IDS, { config, random }) };
}

/**
 * One input, drawn alike for both clusters, applied to `h`; `batched` says how ticks are given.
 * Returns the code of the error a refused proposal, read or transfer threw (a leader mid-transfer).
 */
function apply(h: Cluster, op: Op, batched: boolean): string {
  try {
    input(h, op, batched);
    return '';
  } catch (err) {
    if (!(err instanceof FlotillaError)) throw err;
    h.flush();
    return err.code;
  }
}

interface Op {
  kind: number;
  id: string;
  n: number;
  to: string;
}

function drawOp(ops: Random): Op {
  return { kind: randomInt(ops, 0, 10), id: IDS[randomInt(ops, 0, 3)]!, n: randomInt(ops, 1, 40), to: IDS[randomInt(ops, 0, 3)]! };
}

function input(h: Cluster, op: Op, batched: boolean): void {
  switch (op.kind) {
    case 0:
    case 1:
    case 2: {
      const raft = h.raft(op.id);
      if (batched) raft.tick(op.n);
      else for (let i = 0; i < op.n; i++) raft.tick();
      h.flush();
      return;
    }
    case 3:
      h.deliver((m) => m.to === op.id);
      return;
    case 4:
      h.deliverAll({ limit: 1_000 });
      return;
    case 5: {
      const leader = h.leaderId();
      if (leader !== undefined) h.propose(leader, `c${op.n}`);
      return;
    }
    case 6: {
      const leader = h.leaderId();
      if (leader !== undefined) h.read(leader, op.n, { lease: op.n % 2 === 0 });
      return;
    }
    case 7: {
      const leader = h.leaderId();
      if (leader !== undefined && leader !== op.to) h.raft(leader).transferLeadership(op.to);
      h.flush();
      return;
    }
    case 8:
      h.isolate(op.id);
      return;
    default:
      h.heal();
  }
}

describe('tick(n) is n ticks', () => {
  test('120 seeded runs of elections, commands, reads, transfers, partitions and quiescence: one call of tick(n) leaves every member as n calls of tick() do', () => {
    let batchedTicks = 0;
    for (let seed = 1; seed <= 120; seed++) {
      const { one, batched } = twins(seed);
      const ops = seededRandom(seed ^ 0x7ac4);
      for (let step = 0; step < 200; step++) {
        const op = drawOp(ops);
        assert.equal(apply(batched, op, true), apply(one, op, false), `seed ${seed} step ${step}: the same input refused alike`);
        if (op.kind <= 2 && op.n > 1) batchedTicks++;
        for (const id of IDS) assert.equal(stateOf(batched.raft(id)), stateOf(one.raft(id)), `seed ${seed} step ${step}: ${id} after ${JSON.stringify(op)}`);
        assert.equal(JSON.stringify(batched.pool), JSON.stringify(one.pool), `seed ${seed} step ${step}: the messages in flight`);
      }
    }
    assert.ok(batchedTicks > 5_000, `the runs batched ticks (${batchedTicks})`);
  });

  test('ticksUntilDue() is the tick a timer fires on: the ticks before it send nothing and change no role', () => {
    for (let seed = 1; seed <= 100; seed++) {
      const { one } = twins(seed);
      const ops = seededRandom(seed ^ 0x51d);
      for (let step = 0; step < 200; step++) {
        const op = drawOp(ops);
        apply(one, op, false);
        const raft = one.raft(op.id);
        const due = raft.ticksUntilDue();
        if (due === Infinity || due > 50) continue;
        const before = { role: raft.currentRole, term: raft.currentTerm, sent: one.pool.length };
        for (let i = 1; i < due; i++) raft.tick();
        one.flush();
        assert.deepEqual({ role: raft.currentRole, term: raft.currentTerm, sent: one.pool.length }, before, `seed ${seed} step ${step}: ${op.id} quiet for ${due - 1} ticks`);
      }
    }
  });
});
