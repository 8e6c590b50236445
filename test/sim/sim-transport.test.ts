// The simulation's building blocks: SimClock/SimScheduler (virtual time for the host code) and
// SimHub/SimTransport (the Transport contract on the simulated network).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { seededRandom } from '../../src/raft/random.js';
import { EntryType, MessageType, message } from '../../src/raft/types.js';
import type { HostId, Item, RaftItem } from '../../src/transport/items.js';
import { SimClock, SimScheduler } from '../../src/sim/kernel/sim-scheduler.js';
import { SimHub, type SimTransport } from '../../src/sim/sim-transport.js';

function raftItem(data: number[] = [1, 2, 3], groupId = 1): RaftItem {
  return {
    kind: 'raft',
    groupId,
    message: message({
      type: MessageType.Append,
      from: 'a',
      to: 'b',
      term: 1,
      entries: [{ index: 1, term: 1, type: EntryType.Normal, data: Uint8Array.from(data) }],
    }),
  };
}

interface Received {
  from: HostId;
  item: Item;
}

/** A hub of endpoints that know each other, each recording what it receives and its peer events. */
function world(hosts: HostId[] = ['a', 'b', 'c']) {
  const clock = new SimClock();
  const hub = new SimHub(clock, seededRandom(1));
  const received = new Map<HostId, Received[]>();
  const events: string[] = [];
  const schedulers = new Map<HostId, SimScheduler>();
  const endpoints = new Map<HostId, SimTransport>();
  const start = (host: HostId): SimTransport => {
    const scheduler = new SimScheduler(clock);
    schedulers.set(host, scheduler);
    const t = hub.endpoint(host, { scheduler });
    received.set(host, []);
    t.onItem((from, item) => received.get(host)!.push({ from, item }));
    t.onPeerUp((peer) => events.push(`${host}: ${peer} up`));
    t.onPeerDown((peer) => events.push(`${host}: ${peer} down`));
    t.setPeers(new Map(hosts.filter((h) => h !== host).map((h) => [h, `${h}:1`])));
    endpoints.set(host, t);
    return t;
  };
  for (const host of hosts) start(host);
  const endpoint = (host: HostId): SimTransport => endpoints.get(host)!;
  const inbox = (host: HostId): Received[] => received.get(host)!;
  return { clock, hub, events, schedulers, endpoint, inbox, start };
}

describe('SimClock and SimScheduler', () => {
  it('runs timers in virtual time and order, and settles promise chains between events', async () => {
    const clock = new SimClock();
    const s = new SimScheduler(clock);
    const seen: string[] = [];
    s.after(5, () => seen.push(`after5@${s.now()}`));
    const t = s.after(3, () => seen.push('cancelled'));
    t.cancel();
    s.soon(() => {
      // An async chain started by one event finishes before the next event runs.
      void (async () => {
        for (let i = 0; i < 3; i++) await Promise.resolve();
        seen.push(`chain@${s.now()}`);
      })();
    });
    s.soon(() => seen.push(`soon@${s.now()}`));
    const every = s.every(2, () => seen.push(`every@${s.now()}`));
    s.after(7, () => every.cancel());
    await clock.run(20);
    assert.deepEqual(seen, ['chain@0', 'soon@0', 'every@2', 'every@4', 'after5@5', 'every@6']);
    assert.equal(clock.now, 20);
  });

  it('defers a paused host until resume (intervals collapse) and drops everything once halted', async () => {
    const clock = new SimClock();
    const s = new SimScheduler(clock);
    const seen: string[] = [];
    s.every(10, () => seen.push(`tick@${s.now()}`));
    clock.at(15, () => s.pause());
    clock.at(20, () => s.runNow(() => seen.push(`frame@${s.now()}`)));
    clock.at(55, () => s.resume());
    clock.at(70, () => s.halt());
    clock.at(72, () => s.runNow(() => seen.push('after halt')));
    await clock.run(100);
    assert.deepEqual(seen, ['tick@10', 'frame@55', 'tick@55', 'tick@65']);
  });

  it('stops when asked, leaving the clock at the last event', async () => {
    const clock = new SimClock();
    let n = 0;
    for (let t = 1; t <= 10; t++) clock.at(t, () => n++);
    await clock.run(100, { stop: () => n >= 3 });
    assert.equal(n, 3);
    assert.equal(clock.now, 3);
  });
});

describe('SimTransport', () => {
  it('delivers a flushed queue as one frame after a delay, as copies the sender cannot change', async () => {
    const w = world();
    await w.clock.run(0);
    const item = raftItem([7, 7, 7]);
    assert.equal(w.endpoint('a').send('b', item), 'queued');
    assert.equal(w.endpoint('a').send('b', raftItem([8], 2)), 'queued');
    w.endpoint('a').flush();
    item.message.entries[0]!.data[0] = 99;
    assert.equal(w.inbox('b').length, 0, 'nothing arrives before the network delay');
    await w.clock.run(10);
    const got = w.inbox('b');
    assert.deepEqual(got.map((r) => [r.from, r.item.kind === 'raft' ? r.item.groupId : 0]), [['a', 1], ['a', 2]]);
    const first = got[0]!.item;
    assert.ok(first.kind === 'raft');
    assert.deepEqual([...first.message.entries[0]!.data], [7, 7, 7]);
    assert.notEqual(first.message.entries[0]!.data.buffer, item.message.entries[0]!.data.buffer);
    const stats = w.endpoint('a').stats();
    assert.equal(stats.framesSent, 1);
    assert.equal(stats.itemsSent, 2);
    assert.equal(w.endpoint('b').stats().framesReceived, 1);
  });

  it('gives each duplicate of a frame its own buffers', async () => {
    const w = world(['a', 'b']);
    w.hub.faults = { dropRate: 0, duplicateRate: 1, minDelayMs: 1, maxDelayMs: 2 };
    await w.clock.run(0);
    w.endpoint('a').send('b', raftItem());
    w.endpoint('a').flush();
    await w.clock.run(10);
    const [x, y] = w.inbox('b').map((r) => r.item);
    assert.ok(x?.kind === 'raft' && y?.kind === 'raft');
    assert.deepEqual(x.message, y.message);
    assert.notEqual(x.message.entries[0]!.data.buffer, y.message.entries[0]!.data.buffer);
  });

  it('reports peers up and down as hosts start, crash and restart; frames in flight to a crashed host are lost', async () => {
    const w = world(['a', 'b']);
    await w.clock.run(0);
    assert.deepEqual(w.events.sort(), ['a: b up', 'b: a up']);
    assert.deepEqual(w.endpoint('a').connectedHosts(), ['b']);
    w.events.length = 0;
    w.endpoint('a').send('b', raftItem());
    w.endpoint('a').flush();
    w.schedulers.get('b')!.halt();
    w.hub.crash('b');
    assert.equal(w.endpoint('a').send('b', raftItem()), 'unreachable');
    assert.equal(w.endpoint('a').send('nobody', raftItem()), 'unreachable');
    await w.clock.run(10);
    assert.deepEqual(w.events, ['a: b down']);
    assert.equal(w.inbox('b').length, 0);
    assert.equal(w.hub.framesLost, 1);
    w.start('b');
    await w.clock.run(20);
    assert.deepEqual(w.events, ['a: b down', 'a: b up', 'b: a up']);
    assert.equal(w.endpoint('a').send('b', raftItem()), 'queued');
  });

  it('a symmetric partition drops the connections until heal; a one-way one silently eats frames', async () => {
    const w = world(['a', 'b', 'c']);
    await w.clock.run(0);
    w.events.length = 0;
    w.hub.partition(['a'], ['b', 'c']);
    await w.clock.run(1);
    assert.deepEqual(w.events.sort(), ['a: b down', 'a: c down', 'b: a down', 'c: a down']);
    assert.equal(w.endpoint('b').send('a', raftItem()), 'unreachable');
    assert.equal(w.endpoint('b').send('c', raftItem()), 'queued');
    w.hub.heal();
    w.events.length = 0;
    await w.clock.run(2);
    assert.equal(w.events.length, 4);

    w.hub.partition(['a'], ['b'], true);
    await w.clock.run(3);
    assert.equal(w.events.length, 4, 'nobody notices a one-way partition');
    w.endpoint('a').send('b', raftItem());
    w.endpoint('a').flush();
    w.endpoint('b').send('a', raftItem());
    w.endpoint('b').flush();
    await w.clock.run(20);
    assert.equal(w.inbox('b').length, 0, 'nothing from a');
    assert.equal(w.inbox('a').length, 1);
  });

  it('answers busy when a queue is full, tooLarge for an item over the frame limit, and throws on an invalid item', async () => {
    const clock = new SimClock();
    const hub = new SimHub(clock, seededRandom(2));
    const a = hub.endpoint('a', { maxQueueItems: 2, maxFrameBytes: 200 });
    hub.endpoint('b').addPeer('a', 'a:1');
    await clock.run(0);
    assert.equal(a.send('b', raftItem()), 'queued');
    assert.equal(a.send('b', raftItem()), 'queued');
    assert.equal(a.send('b', raftItem()), 'busy');
    assert.equal(a.send('b', raftItem(new Array<number>(300).fill(1))), 'busy');
    a.flush();
    assert.equal(a.send('b', raftItem(new Array<number>(300).fill(1))), 'tooLarge');
    assert.equal(a.stats().itemsRefused, 3);
    const bad = raftItem();
    bad.message.term = -1;
    assert.throws(() => a.send('b', bad), (err: unknown) => isFlotillaError(err, 'BAD_ARGUMENT'));
  });

  it('holds a stalled link\'s queue until a flush after the stall', async () => {
    const w = world(['a', 'b']);
    await w.clock.run(0);
    w.hub.stall('a', 'b', 50);
    w.endpoint('a').send('b', raftItem());
    w.endpoint('a').flush();
    await w.clock.run(60);
    assert.equal(w.inbox('b').length, 0);
    w.endpoint('a').flush();
    await w.clock.run(80);
    assert.equal(w.inbox('b').length, 1);
  });

  it('hands frames to a paused host on resume', async () => {
    const w = world(['a', 'b']);
    await w.clock.run(0);
    w.schedulers.get('b')!.pause();
    w.endpoint('a').send('b', raftItem());
    w.endpoint('a').flush();
    await w.clock.run(50);
    assert.equal(w.inbox('b').length, 0);
    w.schedulers.get('b')!.resume();
    await w.clock.run(51);
    assert.equal(w.inbox('b').length, 1);
  });
});
