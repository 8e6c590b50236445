import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import type { ClientRequestItem } from '../../src/transport/items.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import { refusal, type SendStatus } from '../../src/transport/transport.js';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { captureLogger, closeAll, startHost } from './fixtures/hosts.js';
import { rawServer, type RawServer } from './fixtures/raw-peer.js';
import { raftItem } from './fixtures/samples.js';
import { waitFor } from './fixtures/wait.js';

function request(requestId: number, payloadBytes = 8): ClientRequestItem {
  return {
    kind: 'clientRequest', requestId, group: 'g', requestKind: 'command', payload: new Uint8Array(payloadBytes),
    clientId: 'c', seq: requestId, consistency: 'linearizable', timeoutMs: 1000, ackedBelow: 0,
  };
}

describe('back-pressure', () => {
  it('a full queue drops Raft messages and fails client requests with BUSY, per destination', async () => {
    const hub = new MemoryHub();
    const a = hub.endpoint('a', { maxQueueItems: 4 });
    const b = hub.endpoint('b');
    hub.endpoint('c'); // a second destination, whose queue stays empty
    a.addPeer('b', 'b');
    a.addPeer('c', 'c');
    hub.deliver();
    const atB: number[] = [];
    b.onItem((_from, item) => atB.push(item.kind === 'raft' ? item.message.context : -1));

    for (let i = 0; i < 4; i++) assert.equal(a.send('b', raftItem(1, i)), 'queued');
    assert.equal(a.send('b', raftItem(1, 4)), 'busy', 'the Raft message is dropped');
    assert.equal(a.send('b', request(1)), 'busy');
    assert.ok(isFlotillaError(refusal('busy', 'b'), 'BUSY'), 'the client request fails with BUSY');
    assert.equal(a.send('c', raftItem(1, 0)), 'queued', 'other destinations are unaffected');
    assert.equal(a.stats().itemsRefused, 2);

    a.flush();
    hub.deliver();
    assert.deepEqual(atB, [0, 1, 2, 3]);
    assert.equal(a.send('b', request(2)), 'queued', 'room again after the flush');
  });

  it('counts every item too large for a frame, and logs it at error level once per kind and group', async () => {
    const hub = new MemoryHub();
    const log = captureLogger();
    const a = hub.endpoint('a', { maxFrameBytes: 16 * 1024, logger: log.logger });
    hub.endpoint('b');
    a.addPeer('b', 'b');
    hub.deliver();
    const huge = new Uint8Array(16 * 1024);
    for (const group of ['g', 'g', 'h']) assert.equal(a.send('b', { ...request(1), group, payload: huge }), 'tooLarge');
    assert.equal(a.send('b', request(2)), 'queued');
    assert.equal(a.stats().itemsTooLarge, 3);
    assert.equal(a.stats().itemsRefused, 3);
    const errors = log.lines.filter((line) => line.level === 50);
    assert.deepEqual(errors.map((line) => line.group), ['g', 'h']);
  });

  it('bounds the queue in bytes too', async () => {
    const hub = new MemoryHub();
    const a = hub.endpoint('a', { maxQueueBytes: 10_000 });
    hub.endpoint('b');
    a.addPeer('b', 'b');
    hub.deliver();
    assert.equal(a.send('b', request(1, 6_000)), 'queued');
    assert.equal(a.send('b', request(2, 6_000)), 'busy');
    assert.equal(a.send('b', request(3, 100)), 'queued');
  });

  describe('over ws, against a peer that stops reading', () => {
    let a: WsTransport | undefined;
    let server: RawServer | undefined;
    after(async () => {
      await closeAll(a);
      await server?.close();
    });

    it('holds frames once the socket buffer is full, then sheds load with busy, then recovers', { timeout: 60_000 }, async () => {
      let tcp: Socket | undefined;
      let received = 0;
      server = await rawServer({ hostId: 'slow', secret: 'test cluster secret' }, {
        onAccepted: (ws, socket) => {
          tcp = socket;
          ws.on('message', () => received++);
        },
      });
      a = await startHost('a', { maxQueueItems: 8, maxBufferedBytes: 256 * 1024 });
      a.addPeer('slow', server.address);
      await waitFor('link to the slow peer', () => a?.connectedHosts().includes('slow') === true && tcp !== undefined);
      tcp?.pause();

      let queued = 0;
      let status: SendStatus = 'queued';
      for (let turn = 0; turn < 5_000 && status !== 'busy'; turn++) {
        for (let i = 0; i < 8 && status !== 'busy'; i++) {
          status = a.send('slow', request(turn * 8 + i, 64 * 1024));
          if (status === 'queued') queued++;
        }
        a.flush();
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.equal(status, 'busy', 'the queue filled while the peer was not reading');
      assert.ok(a.stats().itemsSent < queued, 'frames were held back, not buffered without bound');

      tcp?.resume();
      await waitFor('the held items go out once the peer reads again', () => {
        a?.flush();
        return a?.stats().itemsSent === queued;
      }, 20_000);
      await waitFor('the peer got every frame', () => received === a?.stats().framesSent, 20_000);
      assert.equal(a.send('slow', request(0)), 'queued');
    });
  });
});
