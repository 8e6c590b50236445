// Leadership transfer (Raft thesis §3.10): TimeoutNow, catching the target up first, BUSY while
// it is under way, abandoning it after an election timeout.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, Role } from '../../src/raft/types.js';
import { bytes, Cluster, expectError, isMsg } from './harness.js';

const E = 10;

describe('leadership transfer (§3.10)', () => {
  test('§3.10 transfer to a caught-up voter: the leader sends TimeoutNow at once, the target campaigns without waiting and wins', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.run(1); // b and c just heard from a: they are inside its lease
    const term = h.member('a').term;
    h.raft('a').transferLeadership('b');
    h.flush();
    assert.equal(h.pending(isMsg(MessageType.TimeoutNow, { from: 'a', to: 'b' })).length, 1);
    h.deliverAll(); // no ticks: nobody's timer runs
    const b = h.member('b');
    assert.equal(b.role, Role.Leader);
    assert.equal(b.term, term + 1);
    assert.equal(h.member('a').role, Role.Follower);
    assert.equal(h.member('a').raft.leader, 'b');
    const votes = h.sent.filter((m) => m.type === MessageType.Vote && m.from === 'b');
    assert.ok(votes.length > 0 && votes.every((m) => m.force), 'a forced campaign, no PreVote round');
    h.propose('b', 'x');
    h.deliverAll();
    assert.deepEqual(h.member('c').commands, ['x']);
  });

  test('§3.10 transfer to a lagging voter: the leader first brings it up to date, refuses proposals meanwhile, then sends TimeoutNow', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('b');
    for (let i = 0; i < 5; i++) h.propose('a', `x${i}`);
    h.deliverAll();
    h.heal();
    assert.equal(h.raft('b').lastIndex, 2);

    h.raft('a').transferLeadership('b');
    h.flush();
    assert.equal(h.pending(isMsg(MessageType.TimeoutNow)).length, 0, 'no TimeoutNow to a lagging target');
    assert.equal(h.raft('a').status().transferee, 'b');
    const busy = expectError('BUSY', () => h.raft('a').propose(bytes('during')));
    assert.equal(busy.details.leader, 'b', 'the refusal names the incoming leader');
    expectError('BUSY', () => h.raft('a').changeMembership({ type: 'remove', node: 'c' }));

    h.deliverAll({ until: () => h.pending(isMsg(MessageType.TimeoutNow)).length > 0 });
    assert.equal(h.pending(isMsg(MessageType.TimeoutNow, { to: 'b' })).length, 1);
    assert.equal(h.raft('b').lastIndex, h.raft('a').lastIndex, 'TimeoutNow only once b has everything');
    h.deliverAll();
    assert.equal(h.member('b').role, Role.Leader);
    assert.deepEqual(h.member('b').commands, ['x0', 'x1', 'x2', 'x3', 'x4']);
  });

  test('§3.10 a transfer that does not complete is abandoned after an election timeout, and proposals resume', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.raft('a').transferLeadership('b');
    h.flush();
    h.drop(isMsg(MessageType.TimeoutNow));
    h.run(E - 1);
    expectError('BUSY', () => h.raft('a').propose(bytes('too early')));
    h.run(1);
    assert.equal(h.raft('a').status().transferee, '');
    assert.equal(h.member('a').role, Role.Leader, 'a kept leading');
    h.propose('a', 'resumed');
    h.deliverAll();
    assert.deepEqual(h.member('b').commands, ['resumed']);
  });

  test('§3.10 transfer only to a voter: a learner or a stranger is refused with BAD_ARGUMENT, the leader itself is a no-op', () => {
    const h = new Cluster(['a', 'b', 'c', 'l'], { voters: ['a', 'b', 'c'], learners: ['l'] });
    h.electLeader('a');
    expectError('BAD_ARGUMENT', () => h.raft('a').transferLeadership('l'));
    expectError('BAD_ARGUMENT', () => h.raft('a').transferLeadership('zz'));
    h.raft('a').transferLeadership('a');
    h.flush();
    assert.equal(h.raft('a').status().transferee, '');
    assert.equal(h.pending(isMsg(MessageType.TimeoutNow)).length, 0);
    h.propose('a', 'fine');
  });
});
