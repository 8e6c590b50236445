import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import type { HostId, Item } from '../../src/transport/items.js';
import { plain, raftItem, sampleItems } from './fixtures/samples.js';
import { waitFor } from './fixtures/wait.js';

describe('memory transport', () => {
  it('does nothing until deliver(): links, then frames, in order, through the codec', () => {
    const hub = new MemoryHub();
    const a = hub.endpoint('a');
    const b = hub.endpoint('b');
    const events: string[] = [];
    a.onPeerUp((h) => events.push(`a up ${h}`));
    b.onPeerUp((h) => events.push(`b up ${h}`));
    const atB: { from: HostId; item: Item }[] = [];
    b.onItem((from, item) => atB.push({ from, item }));

    a.addPeer('b', 'ignored');
    assert.equal(a.send('b', raftItem(1, 1)), 'unreachable', 'no link before deliver()');
    assert.deepEqual(events, []);
    hub.deliver();
    assert.deepEqual(events.sort(), ['a up b', 'b up a'], 'one side knowing the other is enough');
    assert.deepEqual(a.connectedHosts(), ['b']);

    const items = sampleItems();
    for (const item of items) assert.equal(a.send('b', item), 'queued');
    a.flush();
    assert.equal(atB.length, 0, 'in flight until deliver()');
    assert.equal(hub.deliver(), 1, 'one frame');
    assert.deepEqual(plain(atB.map((r) => r.item)), plain(items));
    assert.ok(atB.every((r) => r.from === 'a'));
  });

  it('holds frames sent during a delivery for the next one', () => {
    const hub = new MemoryHub();
    const a = hub.endpoint('a');
    const b = hub.endpoint('b');
    a.addPeer('b', 'b');
    hub.deliver();
    let atA = 0;
    a.onItem(() => atA++);
    b.onItem((from, item) => {
      b.send(from, item);
      b.flush();
    });
    a.send('b', raftItem(1, 1));
    a.flush();
    assert.equal(hub.deliver(), 1);
    assert.equal(atA, 0);
    assert.equal(hub.deliver(), 1);
    assert.equal(atA, 1);
  });

  it('reports peer down when an endpoint closes, and discards what was queued for it', async () => {
    const hub = new MemoryHub();
    const a = hub.endpoint('a');
    const b = hub.endpoint('b');
    const downs: string[] = [];
    a.onPeerDown((h) => downs.push(h));
    a.addPeer('b', 'b');
    hub.deliver();
    a.send('b', raftItem(1, 1));
    await b.close();
    hub.deliver();
    assert.deepEqual(downs, ['b']);
    assert.equal(a.send('b', raftItem(1, 2)), 'unreachable');
    assert.equal(a.stats().itemsDiscarded, 1);
    assert.deepEqual(b.connectedHosts(), []);
  });

  it('flows by itself with autoDeliver', async () => {
    const hub = new MemoryHub({ autoDeliver: true });
    const a = hub.endpoint('a');
    const b = hub.endpoint('b');
    let got = 0;
    b.onItem(() => got++);
    a.addPeer('b', 'b');
    await waitFor('link', () => a.connectedHosts().includes('b'));
    a.send('b', raftItem(1, 1));
    a.flush();
    await waitFor('delivery', () => got === 1);
  });
});
