import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { realScheduler, type Scheduler } from '../../src/common/scheduler.js';
import { FLEET_MEMBERS } from '../../src/fleet/member-id.js';
import { beatsPerItem, hashesPerItem, wireLoopToTransport, type RaftReceiver } from '../../src/loop/raft-wiring.js';
import { EntryType, MessageType, message, type Message } from '../../src/raft/types.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import type { Item } from '../../src/transport/items.js';

/** Two hosts on a memory hub, h1 wired for Raft, h2 wired and also recording the raw items it gets. */
function pair(maxFrameBytes?: number) {
  const hub = new MemoryHub();
  const t1 = hub.endpoint('h1', { maxFrameBytes });
  const t2 = hub.endpoint('h2', { maxFrameBytes });
  t1.addPeer('h2', 'h2');
  hub.deliver();
  const w1 = wireLoopToTransport(t1, FLEET_MEMBERS, realScheduler);
  const w2 = wireLoopToTransport(t2, FLEET_MEMBERS, realScheduler);
  const stepped: Array<{ groupId: number; message: Message }> = [];
  const receiver: RaftReceiver = { step: (groupId, m) => stepped.push({ groupId, message: m }), unreachable: () => undefined };
  w2.attach(receiver);
  const raw: Item[] = [];
  t2.onItem((_from, item) => raw.push(item));
  return { hub, t1, t2, w1, w2, stepped, raw };
}

const heartbeat = (from: string, to: string, commit: number, context: number, force = false) =>
  message({ type: MessageType.Heartbeat, from, to, term: 4, commit, context, force });

describe('raft wiring', () => {
  it("coalesces a turn's heartbeats to one host into one item, and the receiver steps each as it was sent", () => {
    const { hub, w1, stepped, raw } = pair();
    const out = [
      { groupId: 1, message: heartbeat('h1~1', 'h2~1', 10, 7) },
      { groupId: 2, message: heartbeat('h1~5', 'h2~9', 0, 1, true) },
      { groupId: 3, message: message({ type: MessageType.HeartbeatResp, from: 'h1~2', to: 'h2~3', term: 6, context: 12 }) },
      { groupId: 4, message: message({ type: MessageType.Append, from: 'h1~1', to: 'h2~1', term: 4, index: 3, logTerm: 4, commit: 3 }) },
    ];
    w1.send(out);
    hub.deliver();
    assert.deepEqual(raw.map((i) => i.kind).sort(), ['heartbeat', 'heartbeatResp', 'raftPack']);
    const beats = raw.find((i) => i.kind === 'heartbeat');
    assert.ok(beats?.kind === 'heartbeat' && beats.beats.length === 2);
    // Every message arrives exactly as sent (the order may differ: beats follow the packed messages).
    const key = (x: { groupId: number }) => x.groupId;
    assert.deepEqual([...stepped].sort((a, b) => key(a) - key(b)), out);
    assert.equal(w1.stats.sent, 4);
    assert.equal(w1.stats.beats, 3);
    assert.equal(w1.stats.coalescedItems, 2);
  });

  it("splits a turn's heartbeats into items that each fit the transport's frame", () => {
    const frame = 16 * 1024;
    const { hub, t1, w1, stepped, raw } = pair(frame);
    const worst = { commit: 2 ** 53 - 1, context: 2 ** 53 - 1 };
    const out = Array.from({ length: 2000 }, (_, i) => ({ groupId: 2 ** 32 - 1 - i, message: heartbeat(`h1~${2 ** 32 - 1}`, `h2~${2 ** 32 - 1}`, worst.commit, worst.context, true) }));
    w1.send(out);
    hub.deliver();
    assert.equal(t1.stats().itemsTooLarge, 0);
    assert.equal(stepped.length, 2000);
    assert.equal(raw.length, Math.ceil(2000 / beatsPerItem(frame, 'h1', 'h2')));
    assert.ok(raw.length > 1, 'more than one item');
  });

  it("packs a turn's other messages of every group to one host into one item, and each arrives as it was sent", () => {
    const { hub, w1, stepped, raw } = pair();
    const out = Array.from({ length: 300 }, (_, g) => ({
      groupId: g,
      message:
        g % 3 === 0
          ? message({ type: MessageType.AppendResp, from: `h1~${g + 1}`, to: 'h2~1', term: 3, index: g, reject: g % 2 === 0, rejectHint: g })
          : message({ type: MessageType.Append, from: `h1~${g + 1}`, to: 'h2~1', term: 3, index: g, logTerm: 2, commit: g, entries: [{ index: g + 1, term: 3, type: EntryType.Normal, data: Uint8Array.of(g % 256, 1) }] }),
    }));
    w1.send(out);
    hub.deliver();
    assert.deepEqual(raw.map((i) => i.kind), ['raftPack']);
    const plain = (x: { groupId: number; message: Message }) => ({ ...x, message: { ...x.message, entries: x.message.entries.map((e) => ({ ...e, data: [...e.data] })) } });
    assert.deepEqual(stepped.map(plain), out.map(plain));
    assert.equal(w1.stats.packed, 300);
    assert.equal(w1.stats.packItems, 1);
  });

  it('splits packs where a frame would overflow, and sends a snapshot chunk as an item of its own', () => {
    const frame = 16 * 1024;
    const { hub, t1, w1, stepped, raw } = pair(frame);
    const data = new Uint8Array(1000).fill(7);
    const out = Array.from({ length: 100 }, (_, g) => ({
      groupId: g,
      message: message({ type: MessageType.Append, from: 'h1~1', to: 'h2~1', term: 2 ** 53 - 1, index: 2 ** 40, logTerm: 1, entries: [{ index: 2 ** 40 + 1, term: 1, type: EntryType.Normal, data }] }),
    }));
    const chunk = { meta: { index: 9, term: 1, membership: { voters: ['h1~1', 'h2~1'], learners: [] } }, offset: 0, total: 3, data: Uint8Array.of(1, 2, 3) };
    out.push({ groupId: 500, message: message({ type: MessageType.Snapshot, from: 'h1~1', to: 'h2~1', term: 1, snapshot: chunk }) });
    w1.send(out);
    hub.deliver();
    assert.equal(t1.stats().itemsTooLarge, 0);
    assert.equal(stepped.length, 101);
    assert.equal(raw.filter((i) => i.kind === 'raft').length, 1, 'the snapshot chunk');
    const packs = raw.filter((i) => i.kind === 'raftPack');
    assert.ok(packs.length >= 7 && packs.length <= 8, `100 appends of 1 KB in 16 KiB frames: ${packs.length} packs`);
  });

  it('tells the loop which appends a refused pack held, so their leaders probe instead of pipelining', () => {
    const hub = new MemoryHub();
    const t1 = hub.endpoint('h1');
    const w1 = wireLoopToTransport(t1, FLEET_MEMBERS, realScheduler);
    const unreachable: string[] = [];
    w1.attach({ step: () => undefined, unreachable: (groupId, to) => unreachable.push(`${groupId}/${to}`) });
    w1.send([
      { groupId: 1, message: message({ type: MessageType.Append, from: 'h1~1', to: 'h3~1', term: 1, index: 0 }) },
      { groupId: 2, message: message({ type: MessageType.AppendResp, from: 'h1~1', to: 'h3~2', term: 1, index: 4 }) },
      { groupId: 3, message: message({ type: MessageType.Append, from: 'h1~1', to: 'h3~3', term: 1, index: 0 }) },
    ]);
    assert.deepEqual(unreachable, ['1/h3~1', '3/h3~3']);
    assert.equal(w1.stats.refused, 3);
  });

  it("steps a message to a member on its own host in a later turn of the scheduler it was given, never at once or on a real timer", async () => {
    const hub = new MemoryHub();
    const t1 = hub.endpoint('h1');
    const later: Array<() => void> = [];
    const scheduler: Scheduler = { now: () => 0, after: () => ({ cancel: () => undefined }), every: () => ({ cancel: () => undefined }), soon: (run) => later.push(run) };
    const w1 = wireLoopToTransport(t1, FLEET_MEMBERS, scheduler);
    const stepped: Message[] = [];
    w1.attach({ step: (_groupId, m) => stepped.push(m), unreachable: () => undefined });
    const m = message({ type: MessageType.Append, from: 'h1~5', to: 'h1~3', term: 2, index: 1, logTerm: 1 });
    w1.send([{ groupId: 7, message: m }]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(stepped, [], 'not stepped at once, nor on an event-loop turn of its own');
    assert.equal(later.length, 1);
    later[0]!();
    assert.deepEqual(stepped, [m]);
    assert.equal(w1.stats.sent, 0, 'it never went to the transport');
  });

  it('refuses a message from a member to itself as a broken invariant', () => {
    const { w1 } = pair();
    assert.throws(() => w1.send([{ groupId: 2, message: heartbeat('h1~1', 'h1~1', 0, 0) }]), /flotilla invariant violated: a member never sends to itself: h1~1 in group 2/);
  });

  it('sends a heartbeat whose member ids have no serial as a plain message', () => {
    const { hub, w1, stepped, raw } = pair();
    const odd = { groupId: 1, message: heartbeat('h1', 'h2~x', 3, 1) };
    w1.send([odd]);
    hub.deliver();
    assert.deepEqual(raw.map((i) => i.kind), ['raft']);
    assert.deepEqual(stepped, [odd]);
  });

  it("names members from the authenticated sender, never from the item's own from/to", () => {
    const { hub, t1, stepped } = pair();
    const beat = { groupId: 1, term: 2, commit: 0, round: 1, fromSerial: 3, toSerial: 1, quiesce: false };
    t1.send('h2', { kind: 'heartbeat', from: 'h9', to: 'h8', beats: [beat] });
    t1.flush();
    hub.deliver();
    assert.equal(stepped.length, 1);
    assert.equal(stepped[0]!.message.from, 'h1~3');
    assert.equal(stepped[0]!.message.to, 'h2~1');
  });

  it("sends the state hashes a turn announces once its code is done, one item per host with no beats, and hands each to the receiver's onStateHash", async () => {
    const { hub, w1, w2, raw } = pair();
    const heard: unknown[] = [];
    w2.onStateHash((groupId, from, report) => heard.push({ groupId, from, ...report }));
    // Members on this host are skipped.
    w1.announceStateHash(1, { index: 10, hash: '00112233aabbccdd' }, ['h1~1', 'h2~1']);
    w1.announceStateHash(2, { index: 20, hash: 'ffeeddccbbaa9988' }, ['h2~7']);
    hub.deliver();
    assert.equal(raw.length, 0, 'nothing leaves while the turn runs');
    await Promise.resolve();
    hub.deliver();
    assert.equal(raw.length, 1);
    assert.ok(raw[0]!.kind === 'heartbeat' && raw[0]!.beats.length === 0);
    assert.deepEqual(heard, [
      { groupId: 1, from: 'h1', index: 10, hash: '00112233aabbccdd' },
      { groupId: 2, from: 'h1', index: 20, hash: 'ffeeddccbbaa9988' },
    ]);
  });

  it('splits state hashes into items that each fit the frame, at the largest hash and index', async () => {
    const frame = 16 * 1024;
    const { hub, t1, w1, w2, raw } = pair(frame);
    let heard = 0;
    w2.onStateHash(() => heard++);
    for (let i = 0; i < 2000; i++) w1.announceStateHash(2 ** 32 - 1 - i, { index: 2 ** 53 - 1, hash: 'ab'.repeat(32) }, ['h2~1']);
    await Promise.resolve();
    hub.deliver();
    assert.equal(t1.stats().itemsTooLarge, 0);
    assert.equal(heard, 2000);
    assert.equal(raw.length, Math.ceil(2000 / hashesPerItem(frame, 'h1', 'h2')));
  });
});
