// Limits on accepted connections before they authenticate (src/transport/accept-gate.ts): sockets
// beyond maxUnauthenticatedPerAddress, maxUnauthenticated or maxConnections are destroyed at accept;
// a socket that has not authenticated within handshakeTimeoutMs of its accept is destroyed, whether
// it stays silent, sends an HTTP request that never ends, or opens a WebSocket and says nothing;
// authenticated peers are never limited. Loopback addresses 127.0.0.x stand for remote addresses.
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { FlotillaError } from '../../src/common/errors.js';
import { fdBudget, readSoftFdLimit } from '../../src/transport/fd-limit.js';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { closeAll, link, startHost } from './fixtures/hosts.js';
import { rawConnect } from './fixtures/raw-peer.js';
import { waitFor } from './fixtures/wait.js';

interface Held {
  socket: Socket;
  closed: boolean;
}

/** A TCP socket to `address` from local address `from`, recording when the other side ends it. */
function open(address: string, from: string, first?: string): Promise<Held> {
  const [host, port] = address.split(':') as [string, string];
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port: Number(port), localAddress: from });
    const held: Held = { socket, closed: false };
    socket.on('error', () => undefined);
    socket.once('close', () => (held.closed = true));
    socket.once('connect', () => {
      if (first !== undefined) socket.write(first);
      resolve(held);
    });
    socket.once('error', reject);
  });
}

async function openMany(n: number, address: string, from: string): Promise<Held[]> {
  const out: Held[] = [];
  for (let i = 0; i < n; i++) out.push(await open(address, from));
  return out;
}

describe('accept limits', () => {
  const transports: WsTransport[] = [];
  const held: Held[] = [];
  const host = async (...args: Parameters<typeof startHost>): Promise<WsTransport> => {
    const t = await startHost(...args);
    transports.push(t);
    return t;
  };
  after(async () => {
    for (const h of held) h.socket.destroy();
    await closeAll(...transports);
  });

  it('destroys sockets beyond maxUnauthenticatedPerAddress and maxUnauthenticated at accept; peers still connect', async () => {
    const a = await host('a', { maxUnauthenticated: 8, maxUnauthenticatedPerAddress: 4, handshakeTimeoutMs: 60_000 });
    const flood = await openMany(10, a.address, '127.0.0.2');
    held.push(...flood);
    await waitFor('6 sockets refused for their address', () => flood.filter((h) => h.closed).length === 6);
    assert.deepEqual(pick(a), { unauthenticated: 4, refusedPerAddress: 6, refusedUnauthenticated: 0 });

    const more = [...(await openMany(3, a.address, '127.0.0.3')), ...(await openMany(3, a.address, '127.0.0.4'))];
    held.push(...more);
    await waitFor('2 sockets refused as over the total', () => more.filter((h) => h.closed).length === 2);
    assert.deepEqual(pick(a), { unauthenticated: 8, refusedPerAddress: 6, refusedUnauthenticated: 2 });

    // Every unauthenticated slot is taken: a peer that dials now is refused too, and gets in once
    // the flood is gone (a link made before the flood is never touched: see the next test).
    const b = await host('b');
    b.addPeer('a', a.address);
    await waitFor("b's dial refused", () => a.connectionStats()!.refusedUnauthenticated >= 3);
    for (const h of [...flood, ...more]) h.socket.destroy();
    await link(b, a);
    await waitFor('the flood released', () => a.connectionStats()!.unauthenticated === 0);
    assert.equal(a.connectionStats()!.accepted, 1, "only b's link");
  });

  it('destroys a socket not authenticated within handshakeTimeoutMs of its accept: silent, an unfinished HTTP request, a silent WebSocket', async () => {
    const a = await host('a2', { handshakeTimeoutMs: 300 });
    const b = await host('b2');
    await link(b, a);
    const silent = await open(a.address, '127.0.0.5');
    const unfinished = await open(a.address, '127.0.0.5', 'GET /flotilla/id HTTP/1.1\r\nHost: x\r\n');
    const ws = await rawConnect(a.address);
    held.push(silent, unfinished);
    let wsClosed = false;
    ws.once('close', () => (wsClosed = true));
    await waitFor('all three closed by the host', () => silent.closed && unfinished.closed && wsClosed);
    assert.equal(a.connectionStats()!.handshakeTimeouts, 3);
    assert.deepEqual(a.connectedHosts(), ['b2'], 'the authenticated link stays');
  });

  it('counts its own dials toward maxConnections and refuses accepted sockets beyond it', async () => {
    const b = await host('b3');
    const c = await host('c3');
    const a = await host('a3', { maxConnections: 3 });
    a.addPeer('b3', b.address);
    a.addPeer('c3', c.address);
    await waitFor('a dialed b and c', () => a.connectedHosts().length === 2);
    const first = await open(a.address, '127.0.0.6');
    const second = await open(a.address, '127.0.0.6');
    held.push(first, second);
    await waitFor('the socket beyond maxConnections refused', () => second.closed);
    assert.equal(first.closed, false);
    assert.deepEqual({ ...pick(a), refusedFull: a.connectionStats()!.refusedFull, dialed: a.connectionStats()!.dialed }, {
      unauthenticated: 1, refusedPerAddress: 0, refusedUnauthenticated: 0, refusedFull: 1, dialed: 2,
    });
  });

  it('refuses limits that are not positive integers, and a maxConnections the descriptor limit cannot hold', async () => {
    for (const options of [{ maxConnections: 0 }, { maxUnauthenticated: 1.5 }, { maxUnauthenticatedPerAddress: -1 }, { handshakeTimeoutMs: 0 }]) {
      await assert.rejects(startHost('bad', options), (err) => err instanceof FlotillaError && err.code === 'BAD_ARGUMENT');
    }
    const budget = fdBudget(readSoftFdLimit());
    if (budget.known) {
      await assert.rejects(startHost('bad', { maxConnections: budget.maxConnections + 1 }), (err) => {
        assert.ok(err instanceof FlotillaError && err.code === 'BAD_ARGUMENT');
        assert.match(err.message, /leaves too few file descriptors/);
        return true;
      });
    }
  });
});

function pick(t: WsTransport): { unauthenticated: number; refusedPerAddress: number; refusedUnauthenticated: number } {
  const { unauthenticated, refusedPerAddress, refusedUnauthenticated } = t.connectionStats()!;
  return { unauthenticated, refusedPerAddress, refusedUnauthenticated };
}
