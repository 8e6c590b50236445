// Linearizable reads: ReadIndex and leases (Raft thesis §6.4, §6.4.1).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster, expectError, isMsg } from './harness.js';

const E = 10;

/** Read ids `id` has answered so far. */
const answered = (h: Cluster, id: string): number[] => h.member(id).readStates.map((r) => r.requestId);

describe('ReadIndex (§6.4)', () => {
  test('§6.4 ReadIndex: a new leader answers no read before it has committed an entry of its own term', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x'); // committed at 3 by a; b may not know it is committed
    h.deliver(isMsg(MessageType.Append, { from: 'a', to: 'b' }));
    h.deliver(isMsg(MessageType.AppendResp, { from: 'b' }));
    assert.equal(h.raft('a').committed, 3);
    assert.equal(h.raft('b').committed, 2, 'b holds x but does not know it committed');

    h.electLeader('b', { settle: false });
    const b = h.member('b');
    h.read('b', 1);
    assert.deepEqual(answered(h, 'b'), []);
    // Heartbeat rounds are acknowledged, but the leader still does not know the commit index.
    for (let i = 0; i < 3; i++) {
      h.tick('b');
      h.deliverAll({ filter: isMsg([MessageType.Heartbeat, MessageType.HeartbeatResp]) });
    }
    assert.equal(b.raft.committed, 2);
    assert.deepEqual(answered(h, 'b'), [], 'not before an entry of its term commits');

    h.deliverAll();
    assert.equal(b.raft.committed, 4, "b's first entry (4) committed");
    assert.deepEqual(b.readStates, [{ requestId: 1, index: 4 }], 'then answered, at an index covering x');
  });

  test('§6.4 ReadIndex: a read is confirmed only once a quorum acknowledges a heartbeat round sent after it', () => {
    const h = new Cluster(['a', 'b', 'c', 'd', 'e']);
    h.electLeader('a');
    // An earlier round, whose heartbeats are still in flight. The ticks before it send none: the
    // followers had just answered appends, and hear from the leader every half election timeout.
    for (let t = 0; t < E && h.pending(isMsg(MessageType.Heartbeat, { from: 'a' })).length === 0; t++) h.tick('a');
    const early = h.pending(isMsg(MessageType.Heartbeat, { from: 'a' }));
    assert.equal(early.length, 4, 'a heartbeat to every follower');
    const earlyRound = early[0]!.context;
    h.read('a', 7);
    const roundMsgs = h.pending((m) => m.type === MessageType.Heartbeat && m.context > earlyRound);
    assert.equal(roundMsgs.length, 4, 'the read started its own round');
    const round = roundMsgs[0]!.context;

    h.deliverAll({ filter: (m) => early.includes(m) || (m.type === MessageType.HeartbeatResp && m.context === earlyRound) });
    assert.deepEqual(answered(h, 'a'), [], 'acks of a round sent before the read do not confirm it');

    const ackFrom = (id: string) => {
      h.deliver((m) => m.type === MessageType.Heartbeat && m.context === round && m.to === id);
      h.deliver(isMsg(MessageType.HeartbeatResp, { from: id }));
    };
    ackFrom('b');
    assert.deepEqual(answered(h, 'a'), [], 'a and b: two of five');
    ackFrom('c');
    assert.deepEqual(h.member('a').readStates, [{ requestId: 7, index: 2 }], 'a, b, c: a quorum');
  });

  test('§6.4 ReadIndex: a leader cut off from the group never answers a read, and the others move on', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('a');
    h.read('a', 1);
    h.run(3 * E, { until: () => h.member('b').role === Role.Leader || h.member('c').role === Role.Leader });
    const newLeader = h.member('b').role === Role.Leader ? 'b' : 'c';
    h.propose(newLeader, 'y');
    h.run(2 * E);
    assert.deepEqual(h.member(newLeader).commands, ['y']);
    assert.deepEqual(answered(h, 'a'), [], 'a could have answered with a stale index: it must not');
    assert.notEqual(h.member('a').role, Role.Leader, 'CheckQuorum made it step down');
    expectError('NOT_LEADER', () => h.raft('a').readIndex(2));
    h.heal();
    h.run(2);
    assert.deepEqual(answered(h, 'a'), []);
  });

  test('§6.4 ReadIndex: a single-voter group answers a read at once, without messages', () => {
    const h = new Cluster(['a', 'l'], { voters: ['a'], learners: ['l'] });
    h.electLeader('a');
    h.propose('a', 'x');
    h.deliverAll();
    const mark = h.mark();
    h.read('a', 1);
    assert.deepEqual(h.member('a').readStates, [{ requestId: 1, index: 3 }]);
    assert.equal(h.sentSince(mark).length, 0);
  });
});

describe('lease reads (§6.4.1)', () => {
  test('§6.4.1 lease read: answered without a heartbeat round while the lease holds', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.run(1); // one acknowledged heartbeat round starts the lease
    const mark = h.mark();
    h.read('a', 1, { lease: true });
    assert.deepEqual(h.member('a').readStates, [{ requestId: 1, index: 2 }]);
    assert.equal(h.sentSince(mark).length, 0, 'no messages');
  });

  test('§6.4.1 lease read: no lease before any round is acknowledged; and none after it expires, which is before anyone else can be elected', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a', { settle: false }); // its first append, of its term's first round, is not answered yet
    h.read('a', 1, { lease: true });
    assert.deepEqual(answered(h, 'a'), [], 'no acknowledged round yet: the read waits for one');
    h.deliverAll();
    assert.deepEqual(answered(h, 'a'), [1]);

    h.run(1);
    h.isolate('a');
    let leaseTicks = 0;
    let requestId = 100;
    for (let t = 0; t < 3 * E; t++) {
      h.tickAll(1); // every member's clock runs
      h.deliverAll();
      const otherLeader = ['b', 'c'].some((id) => h.member(id).role === Role.Leader);
      if (h.member('a').role !== Role.Leader) break;
      const before = answered(h, 'a').length;
      h.read('a', ++requestId, { lease: true });
      const byLease = answered(h, 'a').length > before;
      if (byLease) leaseTicks = t + 1;
      assert.ok(!(byLease && otherLeader), `tick ${t + 1}: a lease read was served while another leader exists`);
    }
    assert.ok(leaseTicks > 0, 'the lease served reads for a while');
    assert.ok(leaseTicks < E - 1, `the lease ended ${leaseTicks} ticks after the last acknowledged round`);
    assert.ok(['b', 'c'].some((id) => h.member(id).role === Role.Leader), 'b or c was elected in the end');
  });

  test('§6.4.1 lease read: not served by the lease once a leadership transfer started, even after it is abandoned', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.run(1);
    h.raft('a').transferLeadership('b');
    h.flush();
    assert.equal(h.drop(isMsg(MessageType.TimeoutNow)), 1, 'the TimeoutNow is lost');
    const mark = h.mark();
    h.read('a', 1, { lease: true });
    assert.deepEqual(answered(h, 'a'), [], 'b may already be campaigning with force: no lease');
    assert.ok(h.sentSince(mark, isMsg(MessageType.Heartbeat)).length > 0, 'the read takes a heartbeat round instead');
    h.deliverAll();
    assert.deepEqual(answered(h, 'a'), [1]);

    h.run(E);
    assert.equal(h.raft('a').status().transferee, '', 'transfer abandoned');
    assert.equal(h.member('a').role, Role.Leader);
    h.read('a', 2, { lease: true });
    assert.deepEqual(answered(h, 'a'), [1], 'still no lease in this term');
    h.deliverAll();
    assert.deepEqual(answered(h, 'a'), [1, 2]);
  });
});
