// Heartbeats on a busy group: a follower that answers appends gets no periodic heartbeat, since the
// appends carry the leader's read/lease round and their answers acknowledge it. A follower that went
// quiet, or one that does not echo rounds (a host that predates it), keeps its heartbeats. And with
// broadcastCommit off, a commit travels with the next append or the next heartbeat tick.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, Role, message } from '../../src/raft/types.js';
import { Cluster, isMsg } from './harness.js';

const E = 10;

/** One tick of a busy group: the leader ticks, takes a command, and everything is delivered. */
function busyTick(h: Cluster, leader: string, command: string): void {
  h.tick(leader);
  h.propose(leader, command);
  h.deliverAll();
}

describe('heartbeats on a busy group', () => {
  test('a follower that answered appends since the last tick gets no heartbeat; a quiet one does', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.tick('a'); // a new heartbeat interval
    h.deliverAll();
    h.isolate('c');
    h.propose('a', 'x');
    h.deliverAll(); // b answers; c hears nothing
    h.heal();
    const mark = h.mark();
    h.tick('a');
    const beats = h.sentSince(mark, isMsg(MessageType.Heartbeat, { from: 'a' })).map((m) => m.to);
    assert.deepEqual(beats, ['c'], 'only the quiet follower');
    h.deliverAll();
    assert.equal(h.raft('c').committed, h.raft('a').committed, 'and its answer had it sent what it lacked');
  });

  test('§6.4.1 a busy group keeps its lease over many election timeouts with no heartbeat at all', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    busyTick(h, 'a', 'first'); // its tick follows an interval of the election's heartbeats alone
    const mark = h.mark();
    for (let t = 0; t < 3 * E; t++) busyTick(h, 'a', `c${t}`);
    assert.equal(h.sentSince(mark, isMsg(MessageType.Heartbeat)).length, 0, 'appends stood in for every heartbeat');
    const before = h.mark();
    h.read('a', 1, { lease: true });
    assert.deepEqual(h.member('a').readStates.map((r) => r.requestId), [1], 'answered by the lease');
    assert.equal(h.sentSince(before).length, 0, 'without a round');
  });

  test('§6.4 a ReadIndex read is confirmed by the answers to appends sent after its round began', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.read('a', 1);
    h.drop(isMsg(MessageType.Heartbeat)); // the read's own round is lost
    h.propose('a', 'x');
    h.deliverAll();
    assert.deepEqual(h.member('a').readStates.map((r) => r.requestId), [1]);
  });

  test('an append sent before a read was asked does not confirm it; the next one does', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.propose('a', 'x'); // its append carries the round before the read's
    h.read('a', 1);
    h.drop(isMsg(MessageType.Heartbeat));
    h.deliver(isMsg(MessageType.Append));
    h.deliver(isMsg(MessageType.AppendResp));
    assert.deepEqual(h.member('a').readStates, [], 'not confirmed by answers to older appends');
    h.deliverAll(); // the appends telling the followers of x's commit carry the read's round
    assert.deepEqual(h.member('a').readStates.map((r) => r.requestId), [1]);
  });

  test('a follower that answers appends without echoing rounds (an older host) keeps its heartbeats and gives no lease by appends', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.run(1); // a heartbeat interval whose answers are heartbeat answers alone
    const oldHostTick = (t: number): void => {
      h.tick('a');
      h.propose('a', `c${t}`);
      h.drop(isMsg([MessageType.Heartbeat, MessageType.HeartbeatResp]));
      while (h.deliver(isMsg(MessageType.Append)) > 0) {
        for (const m of h.pending(isMsg(MessageType.AppendResp))) m.context = 0; // as an older host answers
        h.deliver(isMsg(MessageType.AppendResp));
      }
    };
    oldHostTick(-1); // the followers' last answers, to the election's appends, echoed its round
    const mark = h.mark();
    for (let t = 0; t < 3 * E; t++) oldHostTick(t);
    const beats = h.sentSince(mark, isMsg(MessageType.Heartbeat, { from: 'a' }));
    assert.equal(beats.length, 2 * 3 * E, 'a heartbeat to each follower at every tick');
    h.read('a', 1, { lease: true });
    assert.deepEqual(h.member('a').readStates, [], 'no lease: no round was acknowledged');
  });

  test('followers in step with the whole log hear a heartbeat every half election timeout, and the lease holds all along', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    h.run(1);
    const start = h.mark();
    const beatTicks: number[] = [];
    for (let t = 0; t < 4 * E; t++) {
      const mark = h.mark();
      h.run(1); // every member ticks; everything is delivered
      const beats = h.sentSince(mark, isMsg(MessageType.Heartbeat, { from: 'a' })).map((m) => m.to);
      if (beats.length > 0) {
        assert.deepEqual(beats.sort(), ['b', 'c'], 'both followers on the same tick');
        beatTicks.push(t);
      }
      h.read('a', t + 1, { lease: true });
      assert.equal(h.member('a').readStates.at(-1)?.requestId, t + 1, `tick ${t}: answered by the lease`);
    }
    const gaps = beatTicks.slice(1).map((t, i) => t - beatTicks[i]!);
    assert.ok(gaps.length >= 6, `heartbeats kept coming (${beatTicks.join(', ')})`);
    assert.ok(gaps.every((g) => g === E / 2), `a heartbeat every ${E / 2} ticks, not every tick (${gaps.join(', ')})`);
    assert.equal(h.sentSince(start, isMsg([MessageType.PreVote, MessageType.Vote])).length, 0, 'no follower campaigned');
    assert.equal(h.member('a').role, Role.Leader);
  });

  test('an answer acknowledging a round never sent is ignored (no lease from it, no crash)', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a', { settle: false });
    h.drop(); // nothing real is answered
    for (const from of ['b', 'c']) {
      h.inject(message({ type: MessageType.AppendResp, from, to: 'a', term: h.raft('a').currentTerm, index: 1, context: 1_000_000 }));
    }
    h.read('a', 1, { lease: true });
    assert.deepEqual(h.member('a').readStates, [], 'no lease');
  });
});

describe('commits without a broadcast of their own (broadcastCommit off)', () => {
  const lazy = { config: { broadcastCommit: false } };

  test('the leader commits and applies at once; its followers learn the commit with the next append, which no extra message precedes', () => {
    const h = new Cluster(['a', 'b', 'c'], lazy);
    h.electLeader('a');
    h.tick('a');
    h.deliverAll();
    const x = h.propose('a', 'x');
    h.deliverAll();
    assert.equal(h.raft('a').committed, x);
    assert.deepEqual(h.member('a').commands, ['x'], 'the leader applied x');
    assert.equal(h.pending().length, 0, 'no append went out only to tell the commit');
    assert.equal(h.raft('b').committed, x - 1, 'b does not know yet');
    const y = h.propose('a', 'y');
    h.deliver(isMsg(MessageType.Append, { to: 'b' }));
    assert.equal(h.raft('b').committed, x, "y's append told b of x's commit");
    h.deliverAll();
    assert.equal(h.raft('a').committed, y);
  });

  test('with no next append, the heartbeat a follower gets anyway tells it the commit, within half an election timeout', () => {
    const h = new Cluster(['a', 'b', 'c'], lazy);
    h.electLeader('a');
    h.tick('a');
    h.deliverAll();
    const x = h.propose('a', 'x');
    h.deliverAll(); // b and c answered x's append, but do not know its commit
    const mark = h.mark();
    let ticks = 0;
    while (h.raft('b').committed < x || h.raft('c').committed < x) {
      assert.ok(ticks < E / 2, `within ${E / 2} ticks (${ticks})`);
      h.tick('a');
      ticks++;
      h.deliverAll();
    }
    const beats = h.sentSince(mark, isMsg(MessageType.Heartbeat, { from: 'a' }));
    assert.deepEqual(beats.map((m) => [m.to, m.commit]).sort(), [['b', x], ['c', x]], 'one heartbeat each, carrying the commit');
    assert.equal(h.sentSince(mark, isMsg(MessageType.Append)).length, 0, 'and no append');
  });
});
