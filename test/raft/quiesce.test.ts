// Quiescence: an idle group's leader stops heartbeating, and its followers stop campaigning, until
// there is work or the driver suspects the leader's host (wake()). Idle groups then cost nothing.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster, isMsg } from './harness.js';

const E = 10;
const Q = 3 * E;

function idleCluster(): Cluster {
  const h = new Cluster(['a', 'b', 'c'], { config: { electionTick: E, heartbeatTick: 1, quiesceAfterTicks: Q } });
  h.electLeader('a');
  h.propose('a', 'x');
  h.deliverAll();
  return h;
}

describe('quiescence', () => {
  test('an idle leader quiesces after quiesceAfterTicks with one last heartbeat, then sends nothing', () => {
    const h = idleCluster();
    h.run(Q + 5);
    assert.ok(h.raft('a').isQuiesced);
    assert.ok(h.raft('b').isQuiesced && h.raft('c').isQuiesced, 'followers were told');
    const mark = h.mark();
    h.run(20 * E);
    assert.deepEqual(h.sentSince(mark), [], 'no message at all while idle');
    assert.equal(h.raft('a').currentRole, Role.Leader);
    assert.equal(h.raft('b').leader, 'a');
  });

  test('a leader with a lagging follower does not quiesce', () => {
    const h = idleCluster();
    h.isolate('c');
    h.propose('a', 'y');
    h.run(Q + 5 * E);
    assert.equal(h.raft('a').isQuiesced, false);
  });

  test('a proposal wakes the group and it commits as usual, then quiesces again', () => {
    const h = idleCluster();
    h.run(Q + 5);
    const index = h.propose('a', 'y');
    h.deliverAll();
    assert.equal(h.raft('a').isQuiesced, false);
    assert.equal(h.raft('b').committed >= index || h.raft('a').committed >= index, true);
    h.run(Q + 5);
    assert.ok(h.raft('a').isQuiesced);
    assert.deepEqual(h.member('b').commands, ['x', 'y']);
  });

  test('quiesced followers do not campaign when the leader dies, until woken; then one is elected', () => {
    const h = idleCluster();
    h.run(Q + 5);
    h.isolate('a');
    h.run(10 * E, { ids: ['b', 'c'] });
    assert.equal(h.raft('b').currentRole, Role.Follower);
    assert.equal(h.raft('b').leader, 'a', 'still follows the quiesced leader');
    h.raft('b').wake();
    h.raft('c').wake();
    h.run(10 * E, { ids: ['b', 'c'], until: () => h.raft('b').currentRole === Role.Leader || h.raft('c').currentRole === Role.Leader });
    assert.ok(h.raft('b').currentRole === Role.Leader || h.raft('c').currentRole === Role.Leader);
  });

  test('followers woken with staggered campaigns elect the first at once, in one term, with no split vote', () => {
    const h = idleCluster();
    h.run(Q + 2 * E); // quiesced for longer than the leader's lease
    const term = h.raft('b').currentTerm;
    h.isolate('a');
    h.raft('b').wake(1);
    h.raft('c').wake(5);
    const rounds = h.run(10 * E, { ids: ['b', 'c'], until: () => h.raft('b').currentRole === Role.Leader });
    assert.equal(h.raft('b').currentRole, Role.Leader);
    assert.ok(rounds <= 2, `b led after ${rounds} rounds`);
    assert.equal(h.raft('b').currentTerm, term + 1, 'one election, no split');
    h.run(10, { ids: ['b', 'c'] });
    assert.equal(h.raft('c').leader, 'b', 'c never campaigned against it');
    assert.equal(h.raft('c').currentTerm, term + 1);
  });

  test('a woken follower whose leader is alive does not depose it: quiesced peers refuse its campaign', () => {
    const h = idleCluster();
    h.run(Q + 5);
    const term = h.raft('a').currentTerm;
    h.cut('a', 'b'); // b cannot reach a, so it suspects a; c can
    h.raft('b').wake();
    h.run(5 * E);
    assert.equal(h.raft('a').currentRole, Role.Leader);
    assert.equal(h.raft('a').currentTerm, term);
    assert.equal(h.raft('c').leader, 'a');
    assert.equal(h.raft('c').currentTerm, term, 'c refused b without moving to its term');
  });

  test('a restarted follower is found by the quiesced leader: its campaign wakes the leader, which heartbeats it', () => {
    const h = idleCluster();
    h.run(Q + 5);
    h.restart('c');
    assert.equal(h.raft('c').leader, '');
    h.run(5 * E);
    assert.equal(h.raft('c').leader, 'a');
    assert.equal(h.raft('a').currentRole, Role.Leader);
    h.run(Q + 5);
    assert.ok(h.raft('a').isQuiesced && h.raft('c').isQuiesced);
  });

  test('when the quiesced leader itself restarts and campaigns, its followers stop waiting for it', () => {
    const h = idleCluster();
    h.run(Q + 5);
    h.restart('a');
    h.run(20 * E, { until: () => [...['a', 'b', 'c']].some((id) => h.raft(id).currentRole === Role.Leader) });
    assert.ok(['a', 'b', 'c'].some((id) => h.raft(id).currentRole === Role.Leader));
  });

  test('a lease read on a leader that was quiesced past its lease waits for a heartbeat round', () => {
    const h = idleCluster();
    h.run(Q + 5);
    h.run(2 * E); // quiesced longer than an election timeout: the lease has run out
    h.read('a', 7, { lease: true });
    assert.deepEqual(h.member('a').readStates, [], 'no answer from an expired lease');
    assert.ok(h.pending(isMsg(MessageType.Heartbeat, { from: 'a' })).length > 0, 'a heartbeat round instead');
    h.deliverAll();
    assert.deepEqual(h.member('a').readStates.map((r) => r.requestId), [7]);
  });
});

describe('ticks of a quiesced member', () => {
  // The host loop lets a quiesced group's ticks pile up and hands them over in one tick(n) before
  // its next input: that must be indistinguishable from ticking it all along.
  for (const n of [1, E - 1, E + 1, 3 * E, 10_000]) {
    test(`tick(${n}) is ${n} single ticks: the same lease, vote guard and election timer afterwards`, () => {
      const runs = [idleCluster(), idleCluster()].map((h, i) => {
        h.run(Q + 5);
        assert.ok(['a', 'b', 'c'].every((id) => h.raft(id).isQuiesced));
        for (const id of ['a', 'b', 'c']) {
          if (i === 0) h.raft(id).tick(n);
          else for (let t = 0; t < n; t++) h.raft(id).tick();
        }
        const mark = h.mark();
        h.read('a', 7, { lease: true });
        const servedAtOnce = h.member('a').readStates.length;
        h.raft('b').wake();
        h.run(3 * E);
        return {
          servedAtOnce,
          sent: h.sentSince(mark),
          state: ['a', 'b', 'c'].map((id) => [h.raft(id).currentRole, h.raft(id).currentTerm, h.raft(id).leader, h.raft(id).isQuiesced]),
        };
      });
      assert.deepEqual(runs[0], runs[1]);
      // Past the lease the read waits for a round; within it, it is served at once.
      assert.equal(runs[0]!.servedAtOnce, n < E - 2 ? 1 : 0);
    });
  }
});
