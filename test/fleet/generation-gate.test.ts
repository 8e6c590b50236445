// The peer side of the generation check (fleet/generation-gate.ts) over the in-memory transport:
// host a's gate, with a record of b, against b speaking raw items (so the test decides their order).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { GenerationVerdict } from '../../src/fleet/generation.js';
import { GenerationGate } from '../../src/fleet/generation-gate.js';
import { GenerationKeeper } from '../../src/fleet/generation-keeper.js';
import { MemoryLogStore } from '../../src/storage/memory-store.js';
import type { DataGenerationField, HostId, Item } from '../../src/transport/items.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import { raftItem } from '../transport/fixtures/samples.js';

const logger = pino({ level: 'silent' });

async function keeperOf(host: HostId): Promise<GenerationKeeper> {
  const store = new MemoryLogStore();
  await store.open();
  return GenerationKeeper.load(store, { host, incarnation: `dir-${host}`, acceptStale: false, newProcess: () => 1 });
}

/** Host a behind its gate, which has heard b's directory at generation 10 from process 1. */
async function setup() {
  const hub = new MemoryHub();
  const keeper = await keeperOf('a');
  keeper.keep('b', { incarnation: 'dir-b', process: 1, generation: 10 });
  const refusals: Array<[HostId, GenerationVerdict]> = [];
  const gate = new GenerationGate(hub.endpoint('a'), { keeper, now: () => 0, onStale: (peer, verdict) => refusals.push([peer, verdict]), logger });
  const atA: Array<[HostId, Item]> = [];
  // What a host does with a ping: answer it (the gate stamps the verdict on the pong).
  gate.onItem((from, item) => {
    atA.push([from, item]);
    if (item.kind === 'ping') gate.send(from, { kind: 'pong', sentAt: item.sentAt, liveness: 'up' });
    gate.flush();
  });
  const b = hub.endpoint('b');
  const atB: Item[] = [];
  b.onItem((_from, item) => atB.push(item));
  b.addPeer('a', 'a');
  hub.deliver();
  const fromB = (...items: Item[]): void => {
    for (const item of items) b.send('a', item);
    b.flush();
    hub.deliver();
    hub.deliver(); // the answers
  };
  return { hub, keeper, gate, atA, atB, b, fromB, refusals };
}

function ping(generation: DataGenerationField): Item {
  return { kind: 'ping', sentAt: 1, liveness: 'up', generation };
}

describe('GenerationGate', () => {
  it('pings a new link at once with its own generation', async () => {
    const { atB } = await setup();
    const first = atB[0];
    assert.ok(first?.kind === 'ping' && first.generation?.incarnation === 'dir-a', JSON.stringify(first));
  });

  it('holds what a peer it has a record of sends until its ping is judged, then delivers it in order', async () => {
    const { atA, atB, fromB, keeper } = await setup();
    fromB(raftItem(1, 1), raftItem(1, 2));
    assert.equal(atA.length, 0, 'held');
    fromB(ping({ incarnation: 'dir-b', process: 2, floor: 10, current: 11 }));
    assert.deepEqual(atA.map(([, item]) => (item.kind === 'raft' ? item.message.context : item.kind)), [1, 2, 'ping']);
    assert.deepEqual(keeper.record('b'), { incarnation: 'dir-b', process: 2, generation: 11 });
    const pong = atB.find((item) => item.kind === 'pong');
    assert.deepEqual(pong?.kind === 'pong' ? pong.verdict : null, { stale: false, recorded: 10, process: 2 });
    fromB(raftItem(1, 3));
    assert.equal(atA.length, 4, 'accepted: no longer held');
  });

  it('refuses a peer presenting a floor below what it heard, and drops everything from it', async () => {
    const { atA, atB, fromB, keeper } = await setup();
    fromB(raftItem(1, 1), ping({ incarnation: 'dir-b', process: 3, floor: 4, current: 4 }), raftItem(1, 2));
    assert.equal(atA.length, 0);
    const refusal = atB.at(-1);
    assert.deepEqual(refusal?.kind === 'pong' ? refusal.verdict : null, { stale: true, recorded: 10, process: 3 });
    assert.deepEqual(keeper.record('b'), { incarnation: 'dir-b', process: 1, generation: 10 }, 'the record stands');
    // A rebased process (acceptStaleDataDir) presenting the recorded floor passes.
    fromB(ping({ incarnation: 'dir-b', process: 4, floor: 10, current: 10 }), raftItem(1, 3));
    assert.deepEqual(atA.map(([, item]) => item.kind), ['ping', 'raft']);
  });

  it('judges a peer by its pong as well, when the peer does not ping this host itself', async () => {
    const { atA, fromB } = await setup();
    fromB(raftItem(1, 1), { kind: 'pong', sentAt: 0, liveness: 'up', generation: { incarnation: 'dir-b', process: 2, floor: 10, current: 10 } });
    assert.deepEqual(atA.map(([, item]) => item.kind), ['raft', 'pong']);
  });

  it('lets through at once a sender it has no record of (a client, a new host)', async () => {
    const { hub, gate, atA } = await setup();
    const client = hub.endpoint('client-1');
    client.addPeer('a', 'a');
    hub.deliver();
    client.send('a', raftItem(2, 9));
    client.flush();
    hub.deliver();
    assert.deepEqual(atA.map(([from]) => from), ['client-1']);
    assert.ok(gate.connectedHosts().includes('client-1'));
  });

  it('reports a stale verdict about its own process, ignores one about another, and takes nothing in once fenced', async () => {
    const { atA, fromB, refusals, gate, keeper } = await setup();
    const mine = keeper.presented().process;
    const stalePong = (process: number): Item => ({ kind: 'pong', sentAt: 0, liveness: 'up', verdict: { stale: true, recorded: 33, process } });
    // A late verdict on a ping of this host's previous process, reaching this one: nothing.
    fromB(ping({ incarnation: 'dir-b', process: 2, floor: 10, current: 10 }), stalePong(mine + 1));
    assert.deepEqual(refusals, []);
    fromB(stalePong(mine));
    assert.deepEqual(refusals, [['b', { stale: true, recorded: 33, process: mine }]]);
    const seen = atA.length;
    gate.fence();
    fromB(ping({ incarnation: 'dir-b', process: 2, floor: 10, current: 10 }), raftItem(1, 1));
    assert.equal(atA.length, seen);
  });
});
