// Leader election (Raft §5.2, §5.4.1), PreVote and CheckQuorum (thesis §9.6, §4.2.3).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { message, MessageType, NONE, Role } from '../../src/raft/types.js';
import { seededRandom } from '../../src/raft/random.js';
import { Cluster, constantRandom, isMsg, type Member } from './harness.js';

const E = 10; // electionTick in every test below

/** A vote request from `from` to `to` for `term`, claiming `from`'s real last index/term unless given. */
function voteRequest(
  h: Cluster,
  from: string,
  to: string,
  term: number,
  extra: { index?: number; logTerm?: number; force?: boolean; type?: MessageType } = {},
) {
  const f = h.raft(from);
  return message({
    type: extra.type ?? MessageType.Vote,
    from,
    to,
    term,
    index: extra.index ?? f.lastIndex,
    logTerm: extra.logTerm ?? f.termAt(f.lastIndex) ?? 0,
    force: extra.force ?? false,
  });
}

/** The answers `id` has sent to `to` that are still in the pool. */
function answers(h: Cluster, type: MessageType, from: string, to: string) {
  return h.pending(isMsg(type, { from, to }));
}

describe('election (§5.2)', () => {
  test('§5.2 a follower that hears nothing campaigns after its election timeout, randomized in [electionTick, 2·electionTick)', () => {
    for (const [draw, timeout] of [
      [0, E],
      [0.5, E + 5],
      [0.999, 2 * E - 1],
    ] as const) {
      const h = new Cluster(['a', 'b', 'c'], { random: (id) => constantRandom(id === 'a' ? draw : 0.999) });
      const a = h.member('a');
      h.tick('a', timeout - 1);
      assert.equal(a.role, Role.Follower, `still a follower after ${timeout - 1} ticks`);
      assert.equal(h.pending().length, 0, 'a follower sends nothing while it waits');
      h.tick('a');
      assert.equal(a.role, Role.PreCandidate, `campaigns at tick ${timeout}`);
      assert.equal(h.pending(isMsg(MessageType.PreVote, { from: 'a' })).length, 2, 'asks both other voters');
    }
  });

  test('a leaving member (its host drains) campaigns two election timeouts late, still votes, and still takes a transfer', () => {
    let leaving = true;
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0), configFor: { a: { leaving: () => leaving } } });
    const a = h.member('a');
    h.tick('a', 3 * E - 1);
    assert.equal(a.role, Role.Follower, 'not after its own timeout, nor one or two more');
    assert.equal(h.raft('a').ticksUntilDue(), 1, 'and the loop is told when it is due');
    h.tick('a');
    assert.equal(a.role, Role.PreCandidate, `campaigns at tick ${3 * E}`);

    const g = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0), configFor: { a: { leaving: () => leaving } } });
    g.tickAll(E); // b and c campaign at their timeout, a does not
    assert.equal(g.member('a').role, Role.Follower);
    g.deliverAll();
    const leader = g.leaderId();
    assert.ok(leader === 'b' || leader === 'c', `a staying member leads (${leader}), elected with the leaving member's vote or the other's`);
    g.raft(leader).transferLeadership('a');
    g.flush();
    g.deliverAll();
    assert.equal(g.leaderId(), 'a', 'asked by a transfer, the leaving member campaigns at once');
    g.raft('a').transferLeadership(leader);
    g.flush();
    g.deliverAll();
    assert.equal(g.leaderId(), leader);
    assert.equal(g.raft('a').ticksUntilDue(), 3 * E, 'leaving, a follower again: three timeouts');
    leaving = false;
    assert.equal(g.raft('a').ticksUntilDue(), E, 'no longer leaving: its own timeout again');
  });

  test('§5.2 without PreVote, a campaign increments the term, votes for itself, and asks every voter', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { preVote: false } });
    const a = h.member('a');
    h.tick('a', E); // a's timeout is exactly electionTick (it draws 0)
    assert.equal(a.role, Role.Candidate);
    assert.equal(a.term, 2);
    assert.equal(a.store.hardState.vote, 'a', 'the self-vote is persisted before the requests go out');
    const requests = h.pending(isMsg(MessageType.Vote, { from: 'a' }));
    assert.deepEqual(requests.map((m) => [m.to, m.term, m.index, m.logTerm]), [
      ['b', 2, 1, 1],
      ['c', 2, 1, 1],
    ]);
  });

  test('§5.2 a candidate that gets votes from a majority becomes leader and every member follows it', () => {
    const h = new Cluster(['a', 'b', 'c', 'd', 'e']);
    h.electLeader('c');
    const c = h.member('c');
    assert.equal(c.role, Role.Leader);
    h.run(1); // one heartbeat round (see replication tests for commit propagation without one)
    for (const m of h.members.values()) {
      assert.equal(m.term, c.term, `${m.id} is in the leader's term`);
      assert.equal(m.raft.leader, 'c', `${m.id} knows the leader`);
      assert.equal(m.raft.committed, 2, `${m.id} committed the leader's first entry`);
    }
    assert.equal(h.member('c').raft.termAt(2), c.term, 'a new leader starts with an entry of its own term');
  });

  test('§5.2 a member grants at most one vote per term, first come first served, and persists it before answering', () => {
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0.9) });
    h.tickAll(E); // past the start-up vote guard; nobody has timed out yet (timeouts are 19)
    const a = h.member('a');

    h.inject(voteRequest(h, 'b', 'a', 2));
    assert.equal(a.store.hardState.vote, 'b', 'the vote is durable');
    assert.equal(answers(h, MessageType.VoteResp, 'a', 'b')[0]?.reject, false, 'b gets the vote');

    h.inject(voteRequest(h, 'c', 'a', 2));
    const toC = answers(h, MessageType.VoteResp, 'a', 'c');
    assert.equal(toC.length, 1);
    assert.equal(toC[0]!.reject, true, 'c asks in the same term and is refused');
    assert.equal(a.raft.status().vote, 'b');

    h.inject(voteRequest(h, 'b', 'a', 2));
    assert.equal(answers(h, MessageType.VoteResp, 'a', 'b')[1]?.reject, false, 'a repeated request from b is granted again');

    h.inject(voteRequest(h, 'c', 'a', 3));
    assert.equal(answers(h, MessageType.VoteResp, 'a', 'c')[1]?.reject, false, 'in a new term a votes afresh');
    assert.equal(a.store.hardState.vote, 'c');
    assert.equal(a.store.hardState.term, 3);
  });

  test('§5.4.1 a voter refuses a candidate whose log is less up-to-date (older last term, or same last term and shorter)', () => {
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0.9) });
    h.electLeader('a');
    h.propose('a', 'x');
    h.propose('a', 'y');
    h.deliverAll();
    const b = h.member('b');
    const term = b.term;
    // b's log ends at (4, term). Each case asks in a new term so b may vote.
    const cases = [
      { index: 9, logTerm: term - 1, grant: false, why: 'older last term, even if longer' },
      { index: 3, logTerm: term, grant: false, why: 'same last term, shorter' },
      { index: 4, logTerm: term, grant: true, why: 'same last term, same length' },
      { index: 2, logTerm: term + 1, grant: true, why: 'newer last term, even if shorter' },
    ];
    let t = term;
    for (const c of cases) {
      t++;
      h.tickAll(E, ['b']); // out of the leader's lease
      h.inject(voteRequest(h, 'c', 'b', t, { index: c.index, logTerm: c.logTerm }));
      const resp = answers(h, MessageType.VoteResp, 'b', 'c').at(-1);
      assert.equal(resp?.term, t, c.why);
      assert.equal(resp.reject, !c.grant, c.why);
      assert.equal(b.raft.status().vote, c.grant ? 'c' : NONE, c.why);
    }
  });

  test('§5.4.1 a member that missed committed entries cannot become leader: its (pre-)votes are refused', () => {
    // c times out first (it draws 0: timeout 10), b later (15).
    const h = new Cluster(['a', 'b', 'c'], { random: (id) => constantRandom(id === 'c' ? 0 : 0.5) });
    h.electLeader('a');
    h.isolate('c');
    h.propose('a', 'x');
    h.deliverAll();
    assert.equal(h.raft('a').committed, 3, 'x is committed by a and b');
    h.isolate('a');
    h.heal('c');
    const mark = h.mark();
    h.run(10 * E, { ids: ['b', 'c'], until: () => h.member('b').role === Role.Leader });
    const asked = h.sentSince(mark, isMsg([MessageType.PreVote, MessageType.Vote], { from: 'c', to: 'b' }));
    const answered = h.sentSince(mark, isMsg([MessageType.PreVoteResp, MessageType.VoteResp], { from: 'b', to: 'c' }));
    assert.ok(asked.length > 0, 'c campaigned');
    assert.ok(answered.length > 0 && answered.every((m) => m.reject), 'b refused every request from c');
    assert.equal(h.member('b').role, Role.Leader, 'b, which has x, is elected');
    assert.notEqual(h.member('c').role, Role.Leader);
    h.run(2, { ids: ['b', 'c'] });
    assert.deepEqual(h.member('c').commands, ['x'], 'c learns x from b');
  });

  test('§5.2 a split vote elects nobody, and randomized timeouts elect a leader in a later term', () => {
    // Four voters, no PreVote: a and b campaign in the same term and get one extra vote each.
    const h = new Cluster(['a', 'b', 'c', 'd'], {
      config: { preVote: false, checkQuorum: false },
      random: (_id, i) => {
        let x = i + 1;
        return () => ((x = (x * 48271) % 2147483647) / 2147483647);
      },
    });
    for (const id of ['a', 'b']) {
      for (let i = 0; i < 2 * E && h.member(id).role !== Role.Candidate; i++) h.tick(id);
      assert.equal(h.member(id).role, Role.Candidate);
    }
    assert.equal(h.member('a').term, 2);
    assert.equal(h.member('b').term, 2);
    h.deliver(isMsg(MessageType.Vote, { from: 'a', to: 'c' }));
    h.deliver(isMsg(MessageType.Vote, { from: 'b', to: 'd' }));
    h.deliverAll();
    for (const m of h.members.values()) assert.notEqual(m.role, Role.Leader, `${m.id} did not win term 2`);
    assert.equal(h.leaderId(), undefined);

    const rounds = h.run(10 * E, { until: () => h.leaderId() !== undefined });
    assert.ok(rounds < 10 * E, 'a leader is elected');
    const leader = h.member(h.leaderId()!);
    assert.ok(leader.term > 2, 'in a later term');
    h.run(2);
    for (const m of h.members.values()) assert.equal(m.raft.leader, leader.id);
  });

  test('§5.2 a candidate that hears from a leader of its own term steps down and follows it', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { preVote: false } });
    h.tick('c', E); // past c's start-up vote guard (c's own timeout is 16)
    h.tick('a', E);
    h.tick('b', 2 * E);
    assert.equal(h.member('a').role, Role.Candidate);
    assert.equal(h.member('b').role, Role.Candidate);
    assert.equal(h.member('b').term, 2);
    // c votes for a; a wins term 2. b's own vote answers are held back.
    h.deliver(isMsg(MessageType.Vote, { from: 'a', to: 'c' }));
    h.deliver(isMsg(MessageType.VoteResp, { from: 'c', to: 'a' }));
    assert.equal(h.member('a').role, Role.Leader);
    assert.equal(h.member('b').role, Role.Candidate, 'b still campaigns in term 2');
    h.deliver(isMsg(MessageType.Append, { from: 'a', to: 'b' }));
    const b = h.member('b');
    assert.equal(b.role, Role.Follower);
    assert.equal(b.raft.leader, 'a');
    assert.equal(b.term, 2, 'same term');
    assert.equal(b.raft.status().vote, 'b', 'its vote in term 2 stands');
  });

  test('§5.1 a leader that learns of a higher term (from the new leader) steps down and follows', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const oldTerm = h.member('a').term;
    // a is paused (not ticked, unreachable); b and c elect b.
    h.isolate('a');
    h.run(100, { ids: ['b', 'c'], until: () => h.member('b').role === Role.Leader });
    assert.equal(h.member('a').role, Role.Leader, 'a still believes it leads its old term');
    h.heal();
    h.tick('b');
    h.deliver(isMsg(MessageType.Heartbeat, { from: 'b', to: 'a' }));
    const a = h.member('a');
    assert.equal(a.role, Role.Follower);
    assert.ok(a.term > oldTerm);
    assert.equal(a.term, h.member('b').term);
    assert.equal(a.raft.leader, 'b');
  });

  test('§5.1 a stale leader\'s append is answered with the newer term, and the stale leader steps down', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('a');
    h.run(100, { ids: ['b', 'c'], until: () => h.member('b').role === Role.Leader });
    h.isolate('b');
    h.heal('a');
    const newTerm = h.member('b').term;
    h.propose('a', 'stale'); // a still thinks it leads
    h.deliver(isMsg(MessageType.Append, { from: 'a', to: 'c' }));
    const resp = h.pending(isMsg(MessageType.AppendResp, { from: 'c', to: 'a' }));
    assert.equal(resp.length, 1);
    assert.equal(resp[0]!.term, newTerm, 'c answers with its newer term');
    assert.equal(h.member('c').raft.termAt(3), newTerm, 'c did not take the stale entry');
    h.deliverAll();
    assert.equal(h.member('a').role, Role.Follower);
    assert.equal(h.member('a').term, newTerm);
  });
});

describe('PreVote and CheckQuorum (§9.6)', () => {
  test('§9.6 PreVote: a member partitioned away does not raise its term, and rejoins without disrupting the leader', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const term = h.member('a').term;
    const mark = h.mark();
    h.isolate('c');
    h.run(10 * E);
    const c = h.member('c');
    assert.equal(c.term, term, 'failed pre-votes never raise the term');
    assert.ok(h.sentSince(mark, isMsg(MessageType.PreVote, { from: 'c' })).length > 0, 'c did try');
    assert.equal(h.sentSince(mark, isMsg(MessageType.Vote)).length, 0, 'no real election happened');
    h.heal();
    h.run(3 * E);
    assert.equal(h.sentSince(mark, isMsg(MessageType.Vote)).length, 0, 'still no real election');
    for (const m of h.members.values()) assert.equal(m.term, term, `${m.id} is still in term ${term}`);
    assert.equal(h.member('a').role, Role.Leader, 'the leader keeps leading');
    assert.equal(c.raft.leader, 'a');
  });

  test('§9.6 without PreVote the same partitioned member raises its term, and its return forces the leader out', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { preVote: false } });
    h.electLeader('a');
    const term = h.member('a').term;
    h.isolate('c');
    h.run(10 * E);
    assert.ok(h.member('c').term > term + 2, 'each lonely campaign raised the term');
    h.heal();
    // The leader's next heartbeat to c (within half an election timeout: c had the whole log) meets the higher term.
    h.run(E / 2);
    assert.notEqual(h.member('a').role, Role.Leader, 'the leader met the higher term and stepped down');
  });

  test('§9.6 PreVote: a pre-vote is granted for a future term without changing the voter\'s term or vote', () => {
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0.9) });
    h.tickAll(E); // past the vote guard
    const b = h.member('b');
    h.inject(voteRequest(h, 'c', 'b', 2, { type: MessageType.PreVote }));
    const resp = answers(h, MessageType.PreVoteResp, 'b', 'c');
    assert.equal(resp[0]?.reject, false);
    assert.equal(resp[0].term, 2, 'granted for the future term');
    assert.equal(b.term, 1, 'the voter stays in its term');
    assert.equal(b.raft.status().vote, NONE, 'and has not voted');
  });

  test('§9.6 CheckQuorum: a leader that hears from no quorum steps down within two electionTicks, and not while it hears from one', () => {
    const h = new Cluster(['a', 'b', 'c', 'd', 'e']);
    h.electLeader('a');
    h.run(10 * E);
    assert.equal(h.member('a').role, Role.Leader, 'a leader in touch with its followers keeps leading');
    // a reaches only b: a minority of five.
    for (const id of ['c', 'd', 'e']) h.cut('a', id);
    let ticks = 0;
    while (h.member('a').role === Role.Leader && ticks < 10 * E) {
      h.tick('a');
      h.deliverAll({ filter: (m) => m.from === 'b' || m.to === 'b' });
      ticks++;
    }
    assert.equal(h.member('a').role, Role.Follower);
    assert.ok(ticks <= 2 * E, `stepped down after ${ticks} ticks`);
    assert.equal(h.member('a').raft.leader, NONE);
  });

  test('§4.2.3 lease: a follower that heard from its leader within an election timeout ignores (pre-)vote requests', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const term = h.member('a').term;
    const mark = h.mark();
    h.cut('a', 'c'); // c no longer hears the leader, b still does
    h.run(5 * E);
    assert.ok(h.sentSince(mark, isMsg(MessageType.PreVote, { from: 'c', to: 'b' })).length > 0, 'c campaigned');
    assert.equal(h.sentSince(mark, isMsg(MessageType.PreVoteResp, { from: 'b' })).length, 0, 'b never answered');
    assert.equal(h.member('b').term, term);
    assert.equal(h.member('a').role, Role.Leader);

    // Even a real vote request for a higher term is ignored while b is in the lease.
    const b = h.member('b');
    h.inject(voteRequest(h, 'c', 'b', term + 5));
    assert.equal(answers(h, MessageType.VoteResp, 'b', 'c').length, 0, 'no answer');
    assert.equal(b.term, term, 'and no term change');
  });

  test('§4.2.3 lease: a forced campaign (leadership transfer) is answered even by a follower in the lease', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const term = h.member('a').term;
    h.tick('a');
    h.deliverAll(); // b just heard from a
    h.inject(voteRequest(h, 'c', 'b', term + 1, { force: true }));
    const resp = answers(h, MessageType.VoteResp, 'b', 'c');
    assert.equal(resp.length, 1);
    assert.equal(resp[0]!.reject, false);
    assert.equal(h.member('b').term, term + 1);
  });

  test('§9.6 learners and members outside the configuration never campaign', () => {
    const h = new Cluster(['a', 'b', 'c', 'l'], { voters: ['a', 'b', 'c'], learners: ['l'] });
    h.isolate('l');
    h.tick('l', 10 * E);
    const l: Member = h.member('l');
    assert.equal(l.role, Role.Follower);
    assert.equal(l.term, 1);
    assert.equal(h.sent.filter((m) => m.from === 'l').length, 0);
  });
});

describe('elections that run out of time back off', () => {
  /** Ticks `id` until its role is `role`; returns how many ticks that took. */
  function ticksUntil(h: Cluster, id: string, done: () => boolean, limit = 1000): number {
    for (let n = 1; n <= limit; n++) {
      h.tick(id);
      if (done()) return n;
    }
    throw new Error(`${id}: not done after ${limit} ticks`);
  }

  test('a campaign whose timer runs out widens the next timeout, up to [E, 9E); hearing a leader resets it to [E, 2E)', () => {
    const h = new Cluster(['a', 'b', 'c'], { random: () => constantRandom(0.999) });
    const a = h.member('a');
    h.isolate('a');
    assert.equal(ticksUntil(h, 'a', () => a.role === Role.PreCandidate), 2 * E - 1, 'the first campaign: the window of a follower');
    const campaigns = (): number => h.sent.filter((m) => m.from === 'a' && m.type === MessageType.PreVote && m.to === 'b').length;
    const gaps: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = campaigns();
      gaps.push(ticksUntil(h, 'a', () => campaigns() > before));
    }
    // 0.999 of the window each time: the first campaign waits as long as a follower, and each
    // that runs out doubles the window: E + 2E - 1, E + 4E - 1, E + 8E - 1, and no wider.
    assert.deepEqual(gaps, [2 * E - 1, 3 * E - 1, 5 * E - 1, 9 * E - 1, 9 * E - 1]);
    h.heal();
    h.drop();
    h.electLeader('b');
    assert.equal(h.member('b').role, Role.Leader);
    assert.equal(a.role, Role.Follower);
    h.isolate('a'); // its leader goes silent: the timeout is a follower's again
    assert.equal(ticksUntil(h, 'a', () => a.role === Role.PreCandidate), 2 * E - 1);
  });

  test('a campaign by a member whose log is behind moves the term but neither restarts the timer nor keeps the backoff of a member that can win', () => {
    // Without PreVote or CheckQuorum nothing stops c's campaigns from reaching b. b has x, c has
    // not: c can never win, and each of its campaigns restarted b's timer, widened by b's own
    // campaigns that ran out, so b could wait for good (loop sim seed 9).
    const h = new Cluster(['a', 'b', 'c'], { config: { preVote: false, checkQuorum: false }, random: (id) => constantRandom(id === 'b' ? 0.999 : 0) });
    const b = h.member('b');
    h.electLeader('a');
    h.isolate('c');
    h.propose('a', 'x');
    h.deliverAll();
    h.isolate('a');
    h.isolate('b');
    const campaigns = (): number => h.sent.filter((m) => m.from === 'b' && m.type === MessageType.Vote && m.to === 'c').length;
    for (let n = 0; n < 3; n++) {
      const before = campaigns();
      ticksUntil(h, 'b', () => campaigns() > before);
    }
    // Two of b's campaigns ran out: its window is [E, 5E) now.
    h.heal('b');
    h.tick('b', 5);
    const term = b.term + 1;
    h.inject(voteRequest(h, 'c', 'b', term));
    assert.equal(b.term, term, 'b moves to the campaign\'s term');
    assert.equal(b.role, Role.Follower);
    assert.equal(answers(h, MessageType.VoteResp, 'b', 'c').at(-1)?.reject, true, 'and refuses c, whose log is behind');
    const before = campaigns();
    assert.equal(ticksUntil(h, 'b', () => campaigns() > before), 2 * E - 1 - 5, "b campaigns a follower's timeout after its timer last restarted, not later");
  });

  test('two survivors whose round trip is longer than the election timeout still elect a leader', () => {
    // c is gone; every message between a and b takes ONE_WAY ticks, so an answer comes back 2 *
    // ONE_WAY ticks after the request: more than the widest timeout of [E, 2E). Without the
    // backoff every campaign (PreVote first) gives up before its answers arrive, forever.
    const ONE_WAY = 12;
    const h = new Cluster(['a', 'b', 'c'], { random: (_id, position) => seededRandom(position + 7) });
    h.isolate('c');
    const sentAt = new Map<object, number>();
    let now = 0;
    let leader: string | undefined;
    for (; now < 3000 && leader === undefined; now++) {
      h.tickAll(1, ['a', 'b']);
      for (const m of h.pending()) if (!sentAt.has(m)) sentAt.set(m, now);
      h.deliver((m) => (sentAt.get(m) ?? now) <= now - ONE_WAY);
      leader = ['a', 'b'].find((id) => h.member(id).role === Role.Leader);
    }
    assert.ok(leader !== undefined, `no leader after ${now} ticks: a ${h.member('a').role} b ${h.member('b').role}`);
  });
});
