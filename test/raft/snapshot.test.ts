// Log compaction and snapshots (Raft §7): compacting a leader's log, sending a far-behind follower
// a snapshot in chunks over a lossy network, and a follower that already has the snapshot's entry.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { MessageType, type Message } from '../../src/raft/types.js';
import { between, Cluster, isMsg } from './harness.js';

const chunkOffsets = (ms: Message[]): number[] => ms.map((m) => m.snapshot!.offset);

describe('snapshots (§7)', () => {
  test('§7 compaction drops the log up to the snapshot; the snapshot carries the configuration, and a restart resumes from it', () => {
    const h = new Cluster(['a', 'b', 'c']);
    h.electLeader('a');
    for (let i = 0; i < 10; i++) h.propose('a', `x${i}`);
    h.deliverAll();
    const a = h.member('a');
    assert.equal(a.raft.committed, 12);
    assert.equal(h.compact('a', 8), 8);
    assert.equal(a.raft.compactedTo, 8);
    assert.equal(a.raft.termAt(7), undefined, 'compacted away');
    assert.equal(a.raft.termAt(8), a.term, 'the term at the snapshot index is still known');
    assert.deepEqual(a.raft.latestSnapshot?.meta.membership, { voters: ['a', 'b', 'c'], learners: [] });
    assert.deepEqual(a.store.entries.map((e) => e.index), [9, 10, 11, 12]);

    // keepEntries: the snapshot moves on, but some entries stay for slow followers.
    assert.equal(h.compact('a', 12, 2), 10);
    assert.equal(a.raft.compactedTo, 10);

    h.restart('a');
    assert.equal(a.raft.lastIndex, 12);
    assert.equal(a.raft.committed, 12);
    assert.deepEqual(a.raft.currentMembership.voters, ['a', 'b', 'c']);
    assert.deepEqual(a.commands, ['x0', 'x1', 'x2', 'x3', 'x4', 'x5', 'x6', 'x7', 'x8', 'x9'], 'state machine restored from the snapshot');
    h.run(15);
    assert.ok(h.leaderId() !== undefined);
  });

  test('§7 a far-behind follower gets the snapshot in chunks — one lost, one duplicated — installs it and catches up with entries', () => {
    const h = new Cluster(['a', 'b', 'c'], { config: { snapshotChunkBytes: 64 } });
    h.electLeader('a');
    h.isolate('c');
    for (let i = 0; i < 20; i++) h.propose('a', `command-${i}`);
    h.deliverAll();
    const snapIndex = h.raft('a').committed;
    h.compact('a', snapIndex);
    h.propose('a', 'after-1');
    h.propose('a', 'after-2');
    h.deliverAll();
    const total = h.raft('a').latestSnapshot!.data.length;
    const chunks = Math.ceil(total / 64);
    assert.ok(chunks >= 4, `${chunks} chunks of a ${total}-byte snapshot`);

    h.heal();
    const mark = h.mark();
    h.tick('a', 2); // (the first tick skips the heartbeat of a follower that answered appends within the interval)
    const ac = between('a', 'c');
    // Deliver until the first chunk goes out, then let the first chunk through.
    h.deliverAll({ filter: ac, until: () => h.pending(isMsg(MessageType.Snapshot)).length > 0 });
    const first = h.pending(isMsg(MessageType.Snapshot));
    assert.deepEqual(chunkOffsets(first), [0]);
    assert.equal(first[0]!.snapshot!.total, total);
    assert.equal(first[0]!.snapshot!.meta.index, snapIndex);
    h.deliver(isMsg(MessageType.Snapshot));
    h.deliver(isMsg(MessageType.SnapshotResp));
    assert.deepEqual(chunkOffsets(h.pending(isMsg(MessageType.Snapshot))), [64], 'one chunk at a time');

    assert.equal(h.drop(isMsg(MessageType.Snapshot)), 1, 'the second chunk is lost');
    h.deliverAll({ filter: ac });
    assert.equal(h.pending(isMsg(MessageType.Snapshot)).length, 0, 'stalled until a heartbeat answer');
    h.tick('a');
    h.deliver(isMsg(MessageType.Heartbeat, { to: 'c' }));
    h.deliver(isMsg(MessageType.HeartbeatResp, { from: 'c' }));
    assert.deepEqual(chunkOffsets(h.pending(isMsg(MessageType.Snapshot))), [64], 'the lost chunk is sent again');
    assert.equal(h.duplicate(isMsg(MessageType.Snapshot)), 1, 'and duplicated by the network');
    h.deliverAll();

    const c = h.member('c');
    assert.equal(c.store.snapshot?.meta.index, snapIndex, 'c persisted the snapshot');
    assert.equal(c.store.entries[0]?.index, snapIndex + 1, 'and dropped its old log');
    assert.equal(c.raft.lastIndex, h.raft('a').lastIndex, 'then took the entries after it');
    assert.deepEqual(c.commands, h.member('a').commands);
    assert.deepEqual(c.commands.slice(-2), ['after-1', 'after-2']);
    const sentOffsets = chunkOffsets(h.sentSince(mark, isMsg(MessageType.Snapshot)));
    assert.deepEqual([...new Set(sentOffsets)].sort((x, y) => x - y), Array.from({ length: chunks }, (_, i) => i * 64));

    h.restart('c');
    assert.deepEqual(c.commands, h.member('a').commands, 'c restarts from its snapshot and log');
  });

  test('§7 a follower whose log already contains the snapshot\'s last entry keeps its log and only commits', () => {
    // One entry per append, so c can be given entries 3 and 4 while its answers are lost.
    const h = new Cluster(['a', 'b', 'c'], { config: { maxAppendBytes: 1 } });
    h.electLeader('a');
    for (const cmd of ['A', 'B', 'C', 'D']) h.propose('a', cmd); // 3..6
    h.deliver((m) => m.type === MessageType.Append && m.to === 'c' && m.entries.some((e) => e.index <= 4));
    h.isolate('c'); // c's answers, and anything else for c, are lost
    h.deliverAll();
    const c = h.member('c');
    assert.equal(c.raft.lastIndex, 4);
    assert.equal(h.raft('a').committed, 6);
    h.compact('a', 3); // a no longer has entry 3's predecessor: c can only be sent the snapshot
    const entry4 = c.raft.entryAt(4);
    h.heal();

    h.tick('a', 2); // (the first tick skips the heartbeat of a follower that answered appends within the interval)
    h.deliverAll();
    const snapshots = h.sent.filter((m) => m.type === MessageType.Snapshot && m.to === 'c');
    assert.equal(snapshots.length, 1, 'c was sent the snapshot at 3');
    assert.equal(c.store.snapshot, null, 'c did not install it: its log already has entry 3');
    assert.equal(c.raft.entryAt(4), entry4, 'entry 4 was kept, not replaced');
    assert.equal(c.raft.compactedTo, 0);
    assert.deepEqual(c.commands, ['A', 'B', 'C', 'D'], 'and c caught up from there');
  });
});
