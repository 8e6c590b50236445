import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { CloseCode } from '../../src/transport/connection.js';
import { encodeFrame } from '../../src/transport/codec.js';
import { flotilla } from '../../src/transport/generated/flotilla.js';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { SECRET, captureLogger, closeAll, collect, link, logged, startHost } from './fixtures/hosts.js';
import { closedWith, rawConnect, rawDial, rawServer } from './fixtures/raw-peer.js';
import { plain, raftItem, sampleItems } from './fixtures/samples.js';
import { waitFor, within } from './fixtures/wait.js';

describe('ws transport', () => {
  const open: WsTransport[] = [];
  const host = async (...args: Parameters<typeof startHost>): Promise<WsTransport> => {
    const t = await startHost(...args);
    open.push(t);
    return t;
  };
  after(() => closeAll(...open));

  it('carries every item kind both ways, intact', async () => {
    const a = await host('a');
    const b = await host('b');
    const atA = collect(a);
    const atB = collect(b);
    await link(a, b);
    const items = sampleItems();
    for (const item of items) {
      assert.equal(a.send('b', item), 'queued');
      assert.equal(b.send('a', item), 'queued');
    }
    a.flush();
    b.flush();
    await waitFor('all items at both ends', () => atA.length === items.length && atB.length === items.length);
    assert.deepEqual(plain(atB.map((r) => r.item)), plain(items));
    assert.deepEqual(plain(atA.map((r) => r.item)), plain(items));
    assert.ok(atB.every((r) => r.from === 'a') && atA.every((r) => r.from === 'b'));
  });

  it('identifies a host by its address, and refuses a malformed identity TRANSPORT_PROTOCOL, saying what is wrong', async () => {
    const a = await host('a');
    const b = await host('b');
    assert.equal(await a.identify(b.address), 'b');
    let answer = '';
    const server = createServer((_req, res) => res.end(answer));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      for (const [body, message] of [
        ['{"id":7}', /is not a flotilla host: its identity: id is 7, not a string/],
        ['{"id":""}', /its identity: id is the string "", not a host id/],
        ['[]', /its identity: it is an array, not an object/],
        ['<html>', /its identity is not JSON/],
      ] as const) {
        answer = body;
        await assert.rejects(a.identify(address), (err) => isFlotillaError(err, 'TRANSPORT_PROTOCOL') && message.test(err.message));
      }
    } finally {
      server.close();
    }
  });

  it('sends many groups\' messages as one frame per flush, splitting only past the size limit', async () => {
    const a = await host('a', { maxFrameBytes: 64 * 1024 });
    const b = await host('b', { maxFrameBytes: 64 * 1024 });
    const atB = collect(b);
    await link(a, b);
    const before = b.stats().framesReceived;
    for (let group = 0; group < 1000; group++) assert.equal(a.send('b', raftItem(group, group)), 'queued');
    a.flush();
    await waitFor('1000 items', () => atB.length === 1000);
    assert.equal(b.stats().framesReceived - before, 1, 'one frame');
    assert.deepEqual(atB.map((r) => (r.item.kind === 'raft' ? r.item.message.context : -1)), [...Array(1000).keys()]);

    // 100 items of ~2 KiB exceed a 64 KiB frame: several frames, each accepted by the peer, in order.
    const payload = new Uint8Array(2000);
    const big = { kind: 'clientResponse', requestId: 0, error: null, payload, leaderHint: '', leaderTerm: 0 } as const;
    for (let i = 0; i < 100; i++) a.send('b', { ...big, requestId: i });
    a.flush();
    await waitFor('100 more items', () => atB.length === 1100);
    const frames = b.stats().framesReceived - before - 1;
    assert.ok(frames >= 4 && frames <= 5, `${frames} frames`);
    assert.deepEqual(atB.slice(1000).map((r) => (r.item.kind === 'clientResponse' ? r.item.requestId : -1)), [...Array(100).keys()]);
    assert.equal(a.send('b', { ...big, payload: new Uint8Array(70 * 1024) }), 'tooLarge');
  });

  it('keeps exactly one connection when both hosts dial each other at once', async () => {
    for (let round = 0; round < 5; round++) {
      const a = await host(`a${round}`);
      const b = await host(`b${round}`);
      const events: string[] = [];
      for (const t of [a, b]) {
        t.onPeerUp((peer) => events.push(`${t.hostId} up ${peer}`));
        t.onPeerDown((peer) => events.push(`${t.hostId} down ${peer}`));
      }
      a.addPeer(b.hostId, b.address);
      b.addPeer(a.hostId, a.address);
      await waitFor('one authenticated connection each way', () =>
        a.connectedHosts().length === 1 && b.connectedHosts().length === 1 && a.socketCount() === 1 && b.socketCount() === 1,
      );
      // The losing connection goes quietly: one peer-up per side, no flapping.
      assert.deepEqual(events.sort(), [`${a.hostId} up ${b.hostId}`, `${b.hostId} up ${a.hostId}`]);
      const atB = collect(b);
      a.send(b.hostId, raftItem(1, round));
      a.flush();
      await waitFor('delivery over the surviving connection', () => atB.length === 1);
      await closeAll(a, b);
    }
  });

  it('rejects a wrong secret in either direction, logging why, without disturbing other links', async () => {
    const aLog = captureLogger();
    const a = await host('a', { logger: aLog.logger });
    const good = await host('good');
    await link(good, a);

    // A dialer with the wrong secret is refused by the acceptor.
    const wrongDialer = await host('intruder', { secret: 'not the secret' });
    wrongDialer.addPeer('a', a.address);
    await waitFor('a logs the failed authentication', () => logged(aLog.lines, 'authentication failed'));

    // An acceptor with the wrong secret refuses a correct dialer, which logs the refusal.
    const dialerLog = captureLogger();
    const wrongAcceptor = await host('impostor', { secret: 'not the secret either' });
    const dialer = await host('dialer', { logger: dialerLog.logger });
    dialer.addPeer('impostor', wrongAcceptor.address);
    await waitFor('the dialer logs the refusal', () => logged(dialerLog.lines, 'authentication failed'));

    // An acceptor that skips verification and forges its own proof is caught by the dialer.
    const forger = await rawServer({ hostId: 'forger', secret: 'unknown' }, { acceptProof: new Uint8Array(32) });
    dialer.addPeer('forger', forger.address);
    await waitFor('the dialer rejects the forged proof', () => logged(dialerLog.lines, 'peer failed to authenticate'));
    await forger.close();

    assert.deepEqual(wrongDialer.connectedHosts(), []);
    assert.deepEqual(dialer.connectedHosts(), []);
    assert.deepEqual(a.connectedHosts(), ['good']);
    const atA = collect(a);
    good.send('a', raftItem(1, 1));
    good.flush();
    await waitFor('the good link still works', () => atA.length === 1);
  });

  it('rejects a second process with a connected host id, and a peer claiming our own id', async () => {
    const aLog = captureLogger();
    const a = await host('a', { logger: aLog.logger });
    const b = await host('b');
    await link(b, a);
    const twin = await host('b');
    twin.addPeer('a', a.address);
    await waitFor('a refuses the duplicate', () => logged(aLog.lines, 'already connected from another process'));
    assert.deepEqual(twin.connectedHosts(), []);

    const mirror = await rawConnect(a.address);
    mirror.send(encodeFrame([{ kind: 'hello', hostId: 'a', incarnation: 'x', nonce: new Uint8Array(32), features: 0 }]));
    assert.equal((await within('close', closedWith(mirror))).code, CloseCode.Duplicate);

    const atB = collect(b);
    a.send('b', raftItem(1, 1));
    a.flush();
    await waitFor('the original b still gets a\'s messages', () => atB.length === 1);
    assert.deepEqual(a.connectedHosts(), ['b']);
  });

  it('closes a connection on an oversized, garbage, early or wrong-version frame; others keep working', async () => {
    const aLog = captureLogger();
    const a = await host('a', { maxFrameBytes: 16 * 1024, logger: aLog.logger, handshakeTimeoutMs: 300 });
    const b = await host('b', { maxFrameBytes: 16 * 1024 });
    const atB = collect(b);
    const atA = collect(a);
    await link(a, b);

    const me = { hostId: 'raw', secret: SECRET };
    const cases: { name: string; code: number; attack: () => Promise<import('ws').WebSocket> }[] = [
      { name: 'oversized after auth', code: CloseCode.TooBig, attack: async () => {
        const ws = await rawDial(a.address, 'a', me);
        ws.send(new Uint8Array(17 * 1024));
        return ws;
      } },
      { name: 'oversized before auth', code: CloseCode.TooBig, attack: async () => {
        const ws = await rawConnect(a.address);
        ws.send(new Uint8Array(17 * 1024));
        return ws;
      } },
      { name: 'garbage after auth', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawDial(a.address, 'a', me);
        ws.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
        return ws;
      } },
      { name: 'text message', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawConnect(a.address);
        ws.send('hello');
        return ws;
      } },
      { name: 'item before auth', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawConnect(a.address);
        ws.send(encodeFrame([raftItem(1, 1)]));
        return ws;
      } },
      { name: 'unknown protocol version', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawConnect(a.address);
        ws.send(flotilla.Frame.encode({ version: 2, items: [{ hello: { hostId: 'raw', nonce: new Uint8Array(32) } }] }).finish());
        return ws;
      } },
      { name: 'short nonce', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawConnect(a.address);
        ws.send(encodeFrame([{ kind: 'hello', hostId: 'raw', incarnation: 'x', nonce: new Uint8Array(4), features: 0 }]));
        return ws;
      } },
      { name: 'handshake item after auth', code: CloseCode.Protocol, attack: async () => {
        const ws = await rawDial(a.address, 'a', me);
        ws.send(encodeFrame([{ kind: 'auth', proof: new Uint8Array(32) }]));
        return ws;
      } },
      { name: 'silence during the handshake', code: CloseCode.HandshakeTimeout, attack: () => rawConnect(a.address) },
    ];
    for (const { name, code, attack } of cases) {
      const ws = await attack();
      const closed = await within(name, closedWith(ws));
      assert.equal(closed.code, code, `${name}: ${closed.reason}`);
    }
    assert.ok(logged(aLog.lines, 'unsupported protocol version 2'));
    assert.ok(logged(aLog.lines, 'Max payload size exceeded'), 'the oversize reason is logged');

    assert.deepEqual(a.connectedHosts(), ['b']);
    a.send('b', raftItem(1, 1));
    b.send('a', raftItem(1, 2));
    a.flush();
    b.flush();
    await waitFor('a <-> b still works', () => atA.length === 1 && atB.length === 1);
  });

  it('reports peer down when a peer goes away, and refuses sends to it', async () => {
    const a = await host('a');
    const b = await host('b');
    const downs: string[] = [];
    a.onPeerDown((h) => downs.push(h));
    await link(a, b);
    a.send('b', raftItem(1, 1));
    await b.close();
    await waitFor('peer down', () => downs.includes('b'));
    assert.equal(a.send('b', raftItem(1, 2)), 'unreachable');
    a.flush();
    assert.equal(a.stats().itemsDiscarded, 1, 'the item queued before b left');
  });

  it('reconnects after the peer is closed and recreated on the same port', async () => {
    const a = await host('a');
    let b = await host('b');
    const ups: string[] = [];
    a.onPeerUp((h) => ups.push(h));
    await link(a, b);
    const address = b.address;
    await b.close();
    await waitFor('a notices', () => a.connectedHosts().length === 0);
    b = await host('b', { listen: address });
    const atB = collect(b);
    await waitFor('a redials b', () => a.connectedHosts().includes('b'));
    assert.deepEqual(ups, ['b', 'b']);
    a.send('b', raftItem(1, 1));
    a.flush();
    await waitFor('delivery to the new b', () => atB.length === 1);
  });
});
