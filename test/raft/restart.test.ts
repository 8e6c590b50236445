// Persistent state (Raft §5, Figure 2): term, vote and log survive a crash; a restarted member
// does not vote twice in a term, and refuses votes for an election timeout (the vote guard,
// thesis §4.2.3 / §6.4.1: it may have promised a lease before crashing).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { message, MessageType, NONE, Role } from '../../src/raft/types.js';
import { Cluster, constantRandom, isMsg } from './harness.js';

const E = 10;

function vote(h: Cluster, from: string, to: string, term: number, force = false) {
  const f = h.raft(from);
  return message({ type: MessageType.Vote, from, to, term, index: f.lastIndex, logTerm: f.termAt(f.lastIndex) ?? 0, force });
}

const voteAnswers = (h: Cluster, from: string, to: string) => h.pending(isMsg(MessageType.VoteResp, { from, to }));

describe('restart (§5 persistent state)', () => {
  test('§5 term, vote and log survive a restart from what was persisted', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x');
    h.propose('a', 'y');
    h.deliverAll();
    const b = h.member('b');
    const before = { term: b.term, vote: b.raft.status().vote, log: b.logTerms(), commit: b.raft.committed };
    assert.equal(before.vote, 'a');
    h.restart('b');
    assert.deepEqual({ term: b.term, vote: b.raft.status().vote, log: b.logTerms(), commit: b.raft.committed }, before);
    assert.equal(b.role, Role.Follower);
    assert.equal(b.raft.leader, NONE, 'soft state is not persisted');
    assert.deepEqual(b.commands, ['x', 'y'], 'committed entries are applied again');
    for (let i = 1; i <= b.raft.lastIndex; i++) assert.deepEqual(b.raft.entryAt(i), h.raft('a').entryAt(i));
  });

  test('§5.2 a member that restarts does not vote twice in the same term', () => {
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0.9) });
    h.tickAll(E); // past the start-up vote guard
    h.inject(vote(h, 'c', 'b', 2));
    assert.equal(voteAnswers(h, 'b', 'c')[0]?.reject, false);
    h.restart('b');
    h.tick('b', E);
    h.inject(vote(h, 'a', 'b', 2));
    assert.equal(voteAnswers(h, 'b', 'a')[0]?.reject, true, 'b already voted for c in term 2');
    h.inject(vote(h, 'c', 'b', 2));
    assert.equal(voteAnswers(h, 'b', 'c')[1]?.reject, false, 'it still stands by c');
  });

  test('§5.2 a leader that crashes and restarts comes back as a follower in its term, and its committed entries survive', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x');
    h.deliverAll();
    const term = h.member('a').term;
    h.restart('a');
    assert.equal(h.member('a').role, Role.Follower);
    assert.equal(h.member('a').term, term);
    h.run(5 * 2 * E, { until: () => h.leaderId() !== undefined && h.member(h.leaderId()!).term > term });
    h.propose(h.leaderId()!, 'y');
    h.run(2);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(h.member(id).commands, ['x', 'y'], id);
  });

  for (const checkQuorum of [true, false]) {
    test(`§4.2.3 vote guard: a restarted member ignores vote requests for one election timeout (checkQuorum ${checkQuorum})`, () => {
      const h = new Cluster(['a', 'b', 'c'], { config: { checkQuorum }, random: () => constantRandom(0.9) });
      h.electLeader('a');
      const b = h.member('b');
      const term = b.term;
      h.restart('b');
      h.inject(vote(h, 'c', 'b', term + 1));
      assert.equal(voteAnswers(h, 'b', 'c').length, 0, 'no answer right after the restart');
      assert.equal(b.term, term, 'and no term change');
      h.tick('b', E - 1);
      h.inject(vote(h, 'c', 'b', term + 1));
      assert.equal(voteAnswers(h, 'b', 'c').length, 0, `still none after ${E - 1} ticks`);
      h.tick('b');
      h.inject(vote(h, 'c', 'b', term + 1));
      const answers = voteAnswers(h, 'b', 'c');
      assert.equal(answers.length, 1, `answered after ${E} ticks`);
      assert.equal(answers[0]!.reject, false);
      assert.equal(b.term, term + 1);
    });
  }

  test('§4.2.3 vote guard: a forced campaign (leadership transfer) is answered even right after a restart', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const term = h.member('b').term;
    h.restart('b');
    h.inject(vote(h, 'c', 'b', term + 1, true));
    assert.equal(voteAnswers(h, 'b', 'c')[0]?.reject, false);
  });
});
