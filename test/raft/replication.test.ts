// Log replication (Raft §5.3, §5.4.2, Figure 8), flow control (pipelining, probing), fast
// backtracking, commit propagation, and back-pressure.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ProgressState } from '../../src/raft/progress.js';
import { MessageType, Role, type Message } from '../../src/raft/types.js';
import { between, bytes, carriesEntry, Cluster, constantRandom, expectError, isMsg, type Member } from './harness.js';

const E = 10;

function progressOf(h: Cluster, leader: string, follower: string) {
  const p = h.raft(leader).status().progress.find((x) => x.id === follower);
  assert.ok(p !== undefined, `${leader} tracks ${follower}`);
  return p;
}

const appendsTo = (h: Cluster, from: string, to: string): Message[] => h.pending(isMsg(MessageType.Append, { from, to }));

const indexes = (m: Message): number[] => m.entries.map((e) => e.index);

/** An append that its recipient would take as entry 4 (its log already reaches 3). */
function wouldStoreEntry4(h: Cluster, m: Message): boolean {
  return carriesEntry(4)(m) && m.index === 3 && h.raft(m.to).lastIndex >= 3;
}

describe('replication (§5.3)', () => {
  test('§5.3 pipelining: a follower in Replicate has several appends in flight at once, never more than maxInflight', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxInflight: 3, maxAppendBytes: 1 } });
    h.electLeader('a');
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Replicate);
    for (const cmd of ['A', 'B', 'C', 'D', 'E', 'F']) h.propose('a', cmd); // indexes 3..8, one byte each
    const inflight = appendsTo(h, 'a', 'b');
    assert.deepEqual(inflight.map(indexes), [[3], [4], [5]], 'three appends sent without waiting for an answer, then paused');
    assert.equal(appendsTo(h, 'a', 'c').length, 3);

    // Each answer frees one slot: the next append goes out.
    h.deliver((m) => m === inflight[0]);
    h.deliver(isMsg(MessageType.AppendResp, { from: 'b', to: 'a' }));
    assert.deepEqual(appendsTo(h, 'a', 'b').map(indexes), [[4], [5], [6]]);
    assert.equal(progressOf(h, 'a', 'b').match, 3);

    h.deliverAll();
    for (const id of ['a', 'b', 'c']) assert.deepEqual(h.member(id).commands, ['A', 'B', 'C', 'D', 'E', 'F'], id);
  });

  test('a dropped append (reportUnreachable) stops pipelining: the leader probes, and the follower catches up', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxInflight: 3, maxAppendBytes: 1 } });
    h.electLeader('a');
    for (const cmd of ['A', 'B', 'C', 'D', 'E', 'F']) h.propose('a', cmd);
    assert.equal(appendsTo(h, 'a', 'b').length, 3, 'the window to b is full');
    // The driver's queue to b's host was full: those appends never left.
    h.drop(isMsg(MessageType.Append, { from: 'a', to: 'b' }));
    h.raft('a').reportUnreachable('b');
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Probe, 'no window of appends that will never be answered');
    h.run(3 * E);
    for (const id of ['a', 'b', 'c']) assert.deepEqual(h.member(id).commands, ['A', 'B', 'C', 'D', 'E', 'F'], id);
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Replicate, 'b answered: pipelining again');
  });

  test('§5.3 probe: a new leader sends one append at a time to a follower whose log it does not know, until it answers', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxAppendBytes: 1 } });
    h.electLeader('a', { settle: false });
    for (const cmd of ['A', 'B', 'C']) h.propose('a', cmd);
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Probe);
    assert.equal(appendsTo(h, 'a', 'b').length, 1, 'one probe, however much there is to send');
    assert.deepEqual(indexes(appendsTo(h, 'a', 'b')[0]!), [2]);

    h.deliver(isMsg(MessageType.Append, { from: 'a', to: 'b' }));
    h.deliver(isMsg(MessageType.AppendResp, { from: 'b', to: 'a' }));
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Replicate, 'an accepted probe switches to Replicate');
    const withEntries = appendsTo(h, 'a', 'b').filter((m) => m.entries.length > 0);
    assert.deepEqual(withEntries.map(indexes), [[3], [4], [5]], 'and the rest is pipelined at once');
  });

  test('§5.3 probe: an answer to a heartbeat sent after the probe resends it, one to a heartbeat sent before it does not', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxAppendBytes: 1 } });
    h.electLeader('a', { settle: false });
    h.propose('a', 'A');
    assert.equal(appendsTo(h, 'a', 'b').length, 1, 'one probe in flight to b');
    h.tick('a'); // a heartbeat round, sent after the probe
    h.deliver(isMsg(MessageType.Heartbeat, { from: 'a', to: 'b' })); // it overtakes the probe
    h.duplicate(isMsg(MessageType.HeartbeatResp, { from: 'b' }));
    assert.equal(h.deliver((m) => m.type === MessageType.HeartbeatResp && m.from === 'b' && h.pending(isMsg(MessageType.HeartbeatResp, { from: 'b' }))[0] === m), 1);
    assert.equal(appendsTo(h, 'a', 'b').length, 2, 'b answered a heartbeat that left after the probe and not the probe: it is sent again');
    h.deliver(isMsg(MessageType.HeartbeatResp, { from: 'b' }));
    assert.equal(appendsTo(h, 'a', 'b').length, 2, 'the same answer again: that heartbeat left before the resent probe, which is not sent a third time');
    h.deliverAll();
    assert.equal(progressOf(h, 'a', 'b').state, ProgressState.Replicate);
    assert.deepEqual(h.member('b').commands, h.member('a').commands);
  });

  test('§5.3 probe: a follower that fell behind is probed one append at a time, then caught up by pipelining', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxInflight: 3, maxAppendBytes: 1 } });
    h.electLeader('a');
    h.isolate('c');
    for (let i = 0; i < 10; i++) h.propose('a', String.fromCharCode(65 + i)); // indexes 3..12
    h.deliverAll(); // b takes all; what was sent to c is lost
    assert.equal(h.raft('a').committed, 12);
    h.heal();

    h.tick('a'); // a heartbeat: c answers, a learns c's position is unknown
    h.deliverAll({ filter: isMsg([MessageType.Heartbeat, MessageType.HeartbeatResp], { to: 'c' }) });
    h.deliverAll({ filter: isMsg(MessageType.HeartbeatResp, { from: 'c' }) });
    h.deliverAll({ filter: between('a', 'c'), until: () => progressOf(h, 'a', 'c').state === ProgressState.Probe });
    assert.equal(progressOf(h, 'a', 'c').state, ProgressState.Probe, 'c rejected an append: a probes it');
    assert.equal(appendsTo(h, 'a', 'c').length, 1, 'exactly one append in flight to c');
    h.propose('a', 'K');
    assert.equal(appendsTo(h, 'a', 'c').length, 1, 'new entries do not add appends to a probed follower');

    h.deliverAll({ filter: between('a', 'c'), until: () => progressOf(h, 'a', 'c').state === ProgressState.Replicate });
    h.deliver(isMsg(MessageType.AppendResp, { from: 'c' }));
    assert.ok(appendsTo(h, 'a', 'c').length > 1, 'once c matches, appends are pipelined again');
    h.deliverAll();
    assert.deepEqual(h.member('c').commands, h.member('a').commands);
  });

  test('§5.3 fast backtracking: a follower with a long conflicting suffix of older terms is repaired in a couple of round trips', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('c');
    // c, leader, appends 30 entries nobody else ever sees.
    h.isolate('c');
    for (let i = 0; i < 30; i++) h.propose('c', `old${i}`);
    h.deliverAll();
    assert.equal(h.raft('c').lastIndex, 32);
    // a, then b, lead in newer terms; the log grows to 44 entries of other terms.
    h.electLeader('a');
    for (let i = 0; i < 40; i++) h.propose('a', `new${i}`);
    h.deliverAll();
    h.electLeader('b');
    const b = h.member('b');
    assert.equal(b.raft.lastIndex, 44);
    assert.equal(h.raft('c').termAt(32), h.raft('c').termAt(2), 'c still holds its stale suffix 3..32');

    h.heal();
    const mark = h.mark();
    h.tick('b'); // the heartbeat that tells b c is back
    h.deliverAll();
    const appends = h.sentSince(mark, isMsg(MessageType.Append, { from: 'b', to: 'c' }));
    const rejections = h.sentSince(mark, (m) => m.type === MessageType.AppendResp && m.from === 'c' && m.reject);
    assert.ok(rejections.length <= 1, `${rejections.length} rejections`);
    assert.ok(appends.length <= 3, `${appends.length} appends to repair c (a step per entry would take ~40)`);
    assert.equal(h.raft('c').lastIndex, 44);
    for (let i = 1; i <= 44; i++) assert.equal(h.raft('c').termAt(i), b.raft.termAt(i), `index ${i}`);
    assert.ok(!h.member('c').commands.some((cmd) => cmd.startsWith('old')), 'the stale suffix was never applied');
  });

  test('§5.3 a follower truncates conflicting uncommitted entries and takes the leader\'s, on disk as well', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('a');
    const staleIndexes = [h.propose('a', 'lost1'), h.propose('a', 'lost2'), h.propose('a', 'lost3')];
    h.deliverAll();
    assert.deepEqual(staleIndexes, [3, 4, 5]);
    h.electLeader('b');
    h.propose('b', 'kept1');
    h.deliverAll();
    assert.equal(h.raft('b').committed, 4);

    h.heal();
    h.run(2);
    const a = h.member('a');
    assert.equal(a.role, Role.Follower);
    assert.equal(a.raft.lastIndex, 4, 'entry 5 is gone');
    assert.equal(a.raft.termAt(3), h.raft('b').termAt(3));
    assert.deepEqual(a.store.entries.map((e) => e.index), [1, 2, 3, 4]);
    assert.deepEqual(a.commands, ['kept1']);
  });

  test('§5.3 a follower never truncates entries that match, and ignores a stale (reordered) append', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxAppendBytes: 1 } });
    h.electLeader('a');
    h.propose('a', 'x');
    h.propose('a', 'y');
    const [first, second] = appendsTo(h, 'a', 'b');
    assert.ok(first !== undefined && second !== undefined);
    // The second append arrives first, then the first one late: b must end up with both entries.
    h.deliver((m) => m === first);
    h.deliver((m) => m === second);
    assert.equal(h.raft('b').lastIndex, 4);
    h.inject(first); // a duplicate of the older append
    assert.equal(h.raft('b').lastIndex, 4, 'a stale append does not cut off entry 4');
    h.deliverAll();
    assert.deepEqual(h.member('b').commands, ['x', 'y']);
  });
});

describe('commit (§5.3, §5.4.2)', () => {
  test('§5.3 an entry commits once a majority stores it, and followers learn the commit index from the leader', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    const index = h.propose('a', 'x');
    h.deliver(isMsg(MessageType.Append, { from: 'a' }));
    assert.equal(h.raft('a').committed, index - 1, 'not committed while only the leader acknowledged it');
    h.deliver(isMsg(MessageType.AppendResp, { from: 'b' }));
    assert.equal(h.raft('a').committed, index, 'a and b: a majority');
    assert.deepEqual(h.member('a').commands, ['x'], 'the leader applies it');
    assert.equal(h.raft('b').committed, index - 1, 'b does not know yet');
    h.deliverAll();
    for (const id of ['b', 'c']) {
      assert.equal(h.raft(id).committed, index, `${id} learned the commit`);
      assert.deepEqual(h.member(id).commands, ['x']);
    }
  });

  test('§5.3 a heartbeat never tells a follower to commit beyond what the leader knows it has', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.isolate('c');
    for (const cmd of ['x', 'y', 'z']) h.propose('a', cmd);
    h.deliverAll();
    h.heal();
    h.tick('a', 2); // (the first tick skips the heartbeat of a follower that answered appends within the interval)
    const hb = h.pending(isMsg(MessageType.Heartbeat, { to: 'c' }));
    assert.equal(hb.length, 1);
    assert.equal(hb[0]!.commit, 2, 'commit capped at c\'s match');
    h.deliver(isMsg(MessageType.Heartbeat, { to: 'c' }));
    assert.equal(h.raft('c').committed, 2);
  });

  test(
    '§5.3 a follower that acknowledges after the entry committed learns the commit without waiting for a heartbeat',
    () => {
      const h = new Cluster(['a', 'b', 'c', 'd', 'e']);
      h.electLeader('a', { settle: false });
      // a's first entry (index 2) reaches everyone; b and c answer first and commit it.
      h.deliver(isMsg(MessageType.Append, { from: 'a' }));
      h.deliver(isMsg(MessageType.AppendResp, { from: 'b' }));
      h.deliver(isMsg(MessageType.AppendResp, { from: 'c' }));
      assert.equal(h.raft('a').committed, 2);
      h.deliverAll(); // d and e answer late; no ticks
      for (const id of ['b', 'c', 'd', 'e']) assert.equal(h.raft(id).committed, 2, `${id} knows entry 2 is committed`);
    },
  );

  test('Figure 8: a leader does not commit an entry of an earlier term by counting replicas', () => {
    // Five members, one byte per append so that an append carries one of the entries below.
    const h = new Cluster(['s1', 's2', 's3', 's4', 's5'], { config: { maxAppendBytes: 1 } });
    const [s1, s2, s3, s4, s5] = ['s1', 's2', 's3', 's4', 's5'].map((id) => h.member(id)) as [Member, Member, Member, Member, Member];

    // (a) s1 leads term A and replicates entry 3 ("xx", term A) to s2 only.
    h.electLeader('s1');
    const termA = s1.term;
    for (const id of ['s3', 's4', 's5']) h.isolate(id);
    h.propose('s1', 'xx');
    h.deliverAll();
    assert.equal(s2.raft.termAt(3), termA);
    assert.equal(s1.raft.committed, 2);

    // (b) s1 crashes; s5 is elected for term B by s3, s4 and itself, appends entry 3 (its own,
    // term B) and crashes before sending it anywhere.
    h.isolate('s1');
    h.heal('s3');
    h.heal('s4');
    h.heal('s5');
    h.electLeader('s5', { settle: false });
    const termB = s5.term;
    h.isolate('s5');
    h.drop((m) => m.from === 's5');
    assert.equal(s5.raft.termAt(3), termB);
    assert.equal(s3.raft.lastIndex, 2);

    // (c) s1 restarts and is elected for term C (s2 is unreachable from it). It replicates its
    // entry 3 (term A) to s3 and s4, so entry 3 is on s1, s2, s3, s4 — a majority — and s1 knows
    // of three of them. Its own entry 4 (term C) is on no one else.
    h.restart('s1');
    h.heal('s1');
    h.cut('s1', 's2');
    h.electLeader('s1', { settle: false });
    const termC = s1.term;
    assert.ok(termC > termB);
    assert.equal(s1.raft.termAt(4), termC);
    h.deliverAll({ filter: (m) => (between('s1', 's3')(m) || between('s1', 's4')(m)) && !wouldStoreEntry4(h, m) });
    assert.deepEqual([s3.raft.lastIndex, s3.raft.termAt(3)], [3, termA]);
    assert.deepEqual([s4.raft.lastIndex, s4.raft.termAt(3)], [3, termA]);
    assert.equal(progressOf(h, 's1', 's3').match, 3, 's1 knows s3 has entry 3');
    assert.equal(progressOf(h, 's1', 's4').match, 3, 's1 knows s4 has entry 3');
    assert.equal(s1.raft.committed, 2, 'entry 3 of term A is on a majority, and yet not committed');
    assert.deepEqual(s1.commands, [], 's1 applied nothing');

    // (d) s1 crashes again; s5 returns and wins term D with s2, s3, s4 (its last term B beats
    // their A), and overwrites entry 3 everywhere. Had s1 committed "xx", this would lose it.
    h.isolate('s1');
    h.restart('s5');
    h.heal('s5');
    h.electLeader('s5');
    h.run(1, { ids: ['s2', 's3', 's4', 's5'] }); // a heartbeat round carries the commit to every follower
    for (const m of [s2, s3, s4, s5]) {
      assert.equal(m.raft.termAt(3), termB, `${m.id} now has s5's entry 3`);
      assert.ok(m.raft.committed >= 4, `${m.id} committed through 4`);
    }
    h.heal();
    h.run(3);
    assert.equal(s1.raft.termAt(3), termB, 's1 too, once it is back');
    for (const m of h.members.values()) assert.ok(!m.commands.includes('xx'), `${m.id} never applied xx`);
  });

  test('Figure 8 (e): once an entry of the leader\'s own term is on a majority, it commits, and so does everything before it', () => {
    // s5 times out first in the end game (it draws 0), so it is sure to try.
    const h = new Cluster(['s1', 's2', 's3', 's4', 's5'], {
      config: { maxAppendBytes: 1 },
      random: (id, i) => constantRandom(id === 's5' ? 0 : (i + 1) / 6),
    });
    const s1 = h.member('s1');
    const s5 = h.member('s5');
    // (a) and (b) as above.
    h.electLeader('s1');
    for (const id of ['s3', 's4', 's5']) h.isolate(id);
    h.propose('s1', 'xx');
    h.deliverAll();
    h.isolate('s1');
    for (const id of ['s3', 's4', 's5']) h.heal(id);
    h.electLeader('s5', { settle: false });
    h.isolate('s5');
    h.drop((m) => m.from === 's5');
    // (c) s1 returns for term C and this time its entry 4 (term C) reaches s3 and s4.
    h.restart('s1');
    h.heal('s1');
    h.cut('s1', 's2');
    h.electLeader('s1', { settle: false });
    h.deliverAll({ filter: (m) => between('s1', 's3')(m) || between('s1', 's4')(m) });
    assert.equal(s1.raft.committed, 4, 'entry 4 (term C) is on s1, s3, s4: committed, and entry 3 with it');
    assert.deepEqual(s1.commands, ['xx']);
    // s1 crashes: s5 can no longer win (s3 and s4 have a newer log), and "xx" survives.
    h.isolate('s1');
    h.restart('s5');
    h.heal('s5');
    h.heal('s2');
    const mark = h.mark();
    h.run(20 * E, { ids: ['s2', 's3', 's4', 's5'], until: () => [...h.members.values()].some((m) => m.id !== 's1' && m.role === Role.Leader) });
    assert.notEqual(s5.role, Role.Leader);
    assert.ok(h.sentSince(mark, isMsg(MessageType.PreVote, { from: 's5' })).length > 0, 's5 tried');
    for (const id of ['s3', 's4']) {
      const answers = h.sentSince(mark, isMsg([MessageType.PreVoteResp, MessageType.VoteResp], { from: id, to: 's5' }));
      assert.ok(answers.every((m) => m.reject), `${id} refuses s5`);
    }
    h.run(3, { ids: ['s2', 's3', 's4', 's5'] });
    for (const id of ['s2', 's3', 's4', 's5']) assert.deepEqual(h.member(id).commands, ['xx'], id);
  });
});

describe('back-pressure and routing', () => {
  test('back-pressure: proposals beyond maxUncommittedEntries are refused with BUSY, and accepted again once entries commit', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxUncommittedEntries: 4 } });
    h.electLeader('a');
    h.isolate('b');
    h.isolate('c');
    for (let i = 0; i < 4; i++) h.propose('a', `p${i}`);
    const lastIndex = h.raft('a').lastIndex;
    const err = expectError('BUSY', () => h.raft('a').propose(bytes('one too many')));
    assert.equal(err.details.retry, true);
    assert.equal(h.raft('a').lastIndex, lastIndex, 'the refused proposal was not appended');
    expectError('BUSY', () => h.raft('a').changeMembership({ type: 'remove', node: 'c' }));
    h.heal();
    h.tick('a');
    h.deliverAll();
    assert.equal(h.raft('a').committed, lastIndex);
    h.propose('a', 'accepted');
    h.deliverAll();
    assert.deepEqual(h.member('b').commands, ['p0', 'p1', 'p2', 'p3', 'accepted']);
  });

  test('a follower refuses proposals, reads and transfers with NOT_LEADER and names the leader it knows', () => {
    const h = new Cluster(['a', 'b', 'c']);
    for (const op of [
      (id: string) => h.raft(id).propose(bytes('x')),
      (id: string) => h.raft(id).readIndex(1),
      (id: string) => h.raft(id).transferLeadership('a'),
      (id: string) => h.raft(id).changeMembership({ type: 'remove', node: 'c' }),
    ]) {
      assert.equal(expectError('NOT_LEADER', () => op('b')).details.leader, '', 'no leader known yet');
    }
    h.electLeader('a');
    const err = expectError('NOT_LEADER', () => h.raft('b').propose(bytes('x')));
    assert.equal(err.details.leader, 'a');
    assert.equal(h.raft('b').lastIndex, 2, 'nothing appended');
  });

  test('an append counts each entry as its data plus appendEntryOverheadBytes, so many small entries stay within maxAppendBytes', () => {
    // 3 bytes of data + 30 of framing = 33 per entry: three fit 100 bytes, a fourth would not.
    const h = new Cluster(['a', 'b', 'c'], { config: { maxAppendBytes: 100, appendEntryOverheadBytes: 30 } });
    h.electLeader('a');
    h.isolate('b');
    for (let i = 0; i < 8; i++) h.propose('a', `c${i}!`);
    h.deliverAll();
    h.heal();
    const mark = h.mark();
    h.run(5 * E, { until: () => h.member('b').commands.length === 8 });
    assert.deepEqual(h.member('b').commands, h.member('a').commands);
    const sizes = h.sentSince(mark, isMsg(MessageType.Append, { from: 'a', to: 'b' })).map((m) => m.entries.length);
    assert.equal(Math.max(...sizes), 3, `entries per append: ${sizes.join(', ')}`);
  });

  test('a proposal or membership change over maxEntryBytes is refused (BAD_ARGUMENT) and nothing is appended', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { maxEntryBytes: 8 } });
    h.electLeader('a');
    const last = h.raft('a').lastIndex;
    h.propose('a', '12345678');
    const err = expectError('BAD_ARGUMENT', () => h.raft('a').propose(bytes('123456789')));
    assert.match(err.message, /9 bytes is over maxEntryBytes \(8\)/);
    expectError('BAD_ARGUMENT', () => h.raft('a').changeMembership({ type: 'addLearner', node: 'a-learner-with-a-long-id' }));
    assert.equal(h.raft('a').lastIndex, last + 1, 'only the entry within the limit');
    h.deliverAll();
    assert.deepEqual(h.member('c').commands, ['12345678']);
  });
});
