// Membership changes (Raft thesis §4.1–4.2): learners, promotion, removal (of a follower and of the
// leader itself), one change at a time, the "commit an entry of your term first" rule, and
// configurations taking effect on append (so a truncated one is undone).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, Role } from '../../src/raft/types.js';
import { Cluster, expectError, isMsg } from './harness.js';

const E = 10;

function change(h: Cluster, leader: string, c: Parameters<ReturnType<Cluster['raft']>['changeMembership']>[0]): number {
  const index = h.raft(leader).changeMembership(c);
  h.flush();
  return index;
}

const sorted = (ids: string[]): string[] => [...ids].sort();

describe('membership (§4)', () => {
  test('§4.2.1 a learner added to the group receives the whole log, but neither votes nor counts toward commit', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x');
    h.propose('a', 'y');
    h.deliverAll();
    h.addMember('d'); // an empty member
    change(h, 'a', { type: 'addLearner', node: 'd' });
    h.deliverAll();
    const d = h.member('d');
    assert.deepEqual(d.commands, ['x', 'y'], 'the learner got the log from the leader');
    assert.deepEqual(d.raft.currentMembership, { voters: ['a', 'b', 'c'], learners: ['d'] });

    // The learner's acknowledgement does not commit anything.
    h.isolate('b');
    h.isolate('c');
    const index = h.propose('a', 'z');
    h.deliverAll();
    assert.equal(d.raft.lastIndex, index, 'd stored z');
    assert.equal(h.raft('a').committed, index - 1, 'a + d is not a quorum of the voters a, b, c');
    h.heal();
    h.tick('a', 2); // (the first tick skips the heartbeat of a follower that answered appends within the interval)
    h.deliverAll();
    assert.equal(h.raft('a').committed, index);

    // Elections never ask the learner, and the learner never campaigns.
    const mark = h.mark();
    h.electLeader('b');
    assert.equal(h.sentSince(mark, (m) => (m.type === MessageType.Vote || m.type === MessageType.PreVote) && m.to === 'd').length, 0);
    h.isolate('d');
    h.tick('d', 5 * E);
    assert.equal(d.role, Role.Follower);
    assert.equal(h.sentSince(mark, (m) => m.from === 'd' && m.type !== MessageType.AppendResp && m.type !== MessageType.HeartbeatResp).length, 0);
  });

  test('§4.2.1 a learner is promoted to voter only once it has caught up (BUSY before), and then counts in the quorum', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.addMember('d');
    h.isolate('d');
    change(h, 'a', { type: 'addLearner', node: 'd' });
    h.deliverAll();
    const busy = expectError('BUSY', () => h.raft('a').changeMembership({ type: 'promote', node: 'd' }));
    assert.match(busy.message, /caught up/);
    assert.equal(busy.details.retry, true);

    h.heal();
    h.run(1);
    assert.equal(h.raft('d').lastIndex, h.raft('a').lastIndex);
    change(h, 'a', { type: 'promote', node: 'd' });
    h.deliverAll();
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.deepEqual(sorted(h.raft(id).currentMembership.voters), ['a', 'b', 'c', 'd'], id);
    }
    // Four voters: a quorum is three. a and d alone cannot commit.
    h.isolate('b');
    h.isolate('c');
    const index = h.propose('a', 'x');
    h.deliverAll();
    assert.equal(h.raft('d').lastIndex, index);
    assert.equal(h.raft('a').committed, index - 1);
    h.heal('b');
    // b answered appends within the last heartbeat interval, so the first tick skips its
    // heartbeat; the second finds it quiet, and its answer has the lost entry sent again.
    h.tick('a', 2);
    h.deliverAll();
    assert.equal(h.raft('a').committed, index, 'a, b, d');
  });

  test('§4.1 a removed follower gets nothing more, and the remaining voters commit without it', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    change(h, 'a', { type: 'remove', node: 'c' });
    h.deliverAll();
    assert.deepEqual(h.raft('a').currentMembership.voters, ['a', 'b']);
    assert.deepEqual(h.raft('b').currentMembership.voters, ['a', 'b']);
    const mark = h.mark();
    const index = h.propose('a', 'x');
    h.run(3);
    assert.equal(h.raft('a').committed, index, 'a and b: both voters');
    assert.equal(h.sentSince(mark, isMsg([MessageType.Append, MessageType.Heartbeat], { to: 'c' })).length, 0, 'nothing for c');
    assert.equal(h.member('a').role, Role.Leader);
  });

  test('§4.2.2 a leader that removes itself keeps leading without counting itself until the change commits, then steps down and the rest elect a leader', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('c');
    const confIndex = change(h, 'a', { type: 'remove', node: 'a' });
    assert.deepEqual(h.raft('a').currentMembership.voters, ['b', 'c'], 'in force as soon as appended');
    assert.equal(h.member('a').role, Role.Leader);
    const during = h.propose('a', 'during'); // still accepted
    h.deliverAll();
    assert.equal(h.raft('b').lastIndex, during);
    assert.ok(h.raft('a').committed < confIndex, 'a and b are not a quorum of {b, c}: a does not count itself');
    assert.equal(h.member('a').role, Role.Leader);

    h.heal();
    h.tick('a', 2); // (the first tick skips the heartbeat of a follower that answered appends within the interval)
    h.deliverAll();
    assert.equal(h.member('a').role, Role.Follower, 'a steps down once its removal commits');
    h.run(2 * E, { ids: ['b', 'c'], until: () => h.leaderId() !== undefined });
    const leader = h.leaderId();
    assert.ok(leader === 'b' || leader === 'c', `a new leader (${leader}) among b and c`);
    h.propose(leader, 'after');
    h.run(1, { ids: ['b', 'c'] });
    for (const id of ['b', 'c']) assert.deepEqual(h.member(id).commands, ['during', 'after'], id);

    const mark = h.mark();
    h.tick('a', 5 * E);
    assert.equal(h.member('a').role, Role.Follower);
    assert.equal(h.sentSince(mark, (m) => m.from === 'a').length, 0, 'the removed member never campaigns');
  });

  test('§4.1 only one membership change at a time: a second one is refused with BUSY until the first commits', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.addMember('d');
    h.addMember('e');
    change(h, 'a', { type: 'addLearner', node: 'd' });
    const busy = expectError('BUSY', () => h.raft('a').changeMembership({ type: 'addLearner', node: 'e' }));
    assert.equal(busy.details.retry, true);
    h.deliverAll();
    change(h, 'a', { type: 'addLearner', node: 'e' });
    h.deliverAll();
    assert.deepEqual(h.raft('a').currentMembership.learners, ['d', 'e']);
  });

  test('§4.1 a new leader refuses membership changes until it has committed an entry of its own term', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.electLeader('b', { settle: false });
    h.addMember('d');
    expectError('BUSY', () => h.raft('b').changeMembership({ type: 'addLearner', node: 'd' }));
    h.deliverAll();
    change(h, 'b', { type: 'addLearner', node: 'd' });
    h.deliverAll();
    assert.deepEqual(h.raft('d').currentMembership.learners, ['d']);
  });

  test('§4.1 a configuration takes effect when appended; an uncommitted one that is truncated away reverts the membership', () => {
    const h = new Cluster(['a', 'b', 'c', 'd', 'e']);
    h.electLeader('a');
    for (const id of ['c', 'd', 'e']) h.isolate(id);
    change(h, 'a', { type: 'remove', node: 'e' });
    h.deliverAll();
    for (const id of ['a', 'b']) assert.deepEqual(h.raft(id).currentMembership.voters, ['a', 'b', 'c', 'd'], `${id} uses it at once`);
    assert.ok(h.raft('a').committed < h.raft('a').lastIndex, 'not committed: a and b only');

    h.heal();
    h.isolate('a');
    h.isolate('b');
    h.electLeader('c'); // c, d, e: a majority of the old five
    h.propose('c', 'new');
    h.deliverAll();
    h.heal();
    h.run(2);
    for (const id of ['a', 'b', 'c', 'd', 'e']) {
      assert.deepEqual(h.raft(id).currentMembership.voters, ['a', 'b', 'c', 'd', 'e'], `${id}: the configuration reverted`);
      assert.deepEqual(h.member(id).commands, ['new'], id);
    }
  });

  for (const how of ['restarts', 'steps down (CheckQuorum)'] as const) {
    test(
      `§4.2.2 liveness: a leader that removes itself from a two-voter group and ${how} before the change commits does not leave the group without a leader`,
      () => {
        const h = new Cluster(['a', 'b']);
        h.electLeader('a');
        h.isolate('b');
        change(h, 'a', { type: 'remove', node: 'a' }); // {a, b} -> {b}, appended on a only
        if (how === 'restarts') h.restart('a');
        else h.tick('a', 2 * E); // b is unreachable: a is no quorum of {b}
        assert.equal(h.member('a').role, Role.Follower);
        h.drop(); // the entry never reached b
        h.heal();
        h.run(30 * E, { until: () => h.leaderId() !== undefined });
        assert.ok(h.leaderId() !== undefined, 'both members are up and connected: a leader must be elected');
      },
    );
  }

  test('operator recovery: after a permanent loss of quorum, unsafeForceSingleVoter makes the survivor the only voter and leader at a new term, keeping its log', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x');
    h.deliverAll();
    h.isolate('a');
    h.isolate('b');
    const before = h.raft('c').currentTerm;
    h.raft('c').unsafeForceSingleVoter();
    h.flush();
    h.run(3, { ids: ['c'] });
    const c = h.raft('c');
    assert.equal(c.currentRole, Role.Leader);
    assert.ok(c.currentTerm > before);
    assert.deepEqual(c.currentMembership, { voters: ['c'], learners: [] });
    h.propose('c', 'y');
    h.run(3, { ids: ['c'] });
    assert.deepEqual(h.member('c').commands, ['x', 'y']);
  });
});
