// Throws thousands of random and mutated frames at a live transport, from raw clients before and
// after a valid handshake, then checks that it still serves a real peer and only ever handed its
// handlers valid items. Replay a failure with FUZZ_SEED=<seed printed in the diagnostics>;
// FUZZ_FRAMES changes the total (default 20,000: most of the time goes into the thousands of
// connections the transport rightly closes).
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { encodeFrame } from '../../src/transport/codec.js';
import { flotilla } from '../../src/transport/generated/flotilla.js';
import { checkOutgoing } from '../../src/transport/validate.js';
import type { WsTransport } from '../../src/transport/ws-transport.js';
import { SECRET, closeAll, collect, link, startHost } from './fixtures/hosts.js';
import { Prng } from './fixtures/prng.js';
import { rawConnect, rawDial } from './fixtures/raw-peer.js';
import { sampleItems } from './fixtures/samples.js';
import { waitFor } from './fixtures/wait.js';

const FRAMES_PER_PHASE = Math.ceil(Number(process.env['FUZZ_FRAMES'] ?? 20_000) / 2);
const CLIENTS = 8;
const seed = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));

/** Valid frames to mutate: every sample item alone, all of them together, a hello. */
function corpus(): Uint8Array[] {
  const items = sampleItems();
  return [
    encodeFrame(items),
    ...items.map((item) => encodeFrame([item])),
    encodeFrame([{ kind: 'hello', hostId: 'fuzz', incarnation: 'i', nonce: new Uint8Array(32), features: 0 }]),
  ];
}

/** Numbers around the edges that matter: zero, 2^31, 2^32, 2^53, 2^64. */
function edgeNumber(rng: Prng): number {
  return rng.pick([0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 1.8e19]);
}

/** A structurally valid frame with hostile values, built without the codec's checks. */
function hostileFrame(rng: Prng): Uint8Array {
  const envelopes: flotilla.Envelope.$Properties[] = [
    { raft: { groupId: edgeNumber(rng) % 2 ** 32, type: rng.int(14) as flotilla.MessageType, term: edgeNumber(rng), index: edgeNumber(rng) } },
    { heartbeat: { groupIds: [1, 2], terms: [edgeNumber(rng)], commits: [edgeNumber(rng), 0] } },
    {
      heartbeat: {
        groupIds: [1], terms: [edgeNumber(rng)], commits: [edgeNumber(rng)], rounds: [edgeNumber(rng)],
        fromSerials: [edgeNumber(rng) % 2 ** 32], toSerials: [1], quiescing: rng.next() < 0.5 ? [0] : [edgeNumber(rng) % 2 ** 32],
      },
    },
    { clientResponse: { requestId: edgeNumber(rng), ok: rng.next() < 0.5, errorCode: rng.int(25) as flotilla.ErrorCode } },
    { ping: { sentAt: edgeNumber(rng), liveness: rng.int(5) as flotilla.Liveness } },
    { raft: { type: flotilla.MessageType.SNAPSHOT, snapshot: rng.next() < 0.5 ? {} : { meta: { index: 1 }, offset: edgeNumber(rng) } } },
    {},
  ];
  return flotilla.Frame.encode({ version: rng.pick([0, 1, 1, 1, 2, 2 ** 32 - 1]), items: [rng.pick(envelopes)] }).finish();
}

function mutate(rng: Prng, valid: readonly Uint8Array[]): Uint8Array {
  const base = rng.pick(valid);
  switch (rng.int(6)) {
    case 0:
      return rng.bytes(rng.int(64));
    case 1: {
      const flipped = Uint8Array.from(base);
      for (let n = 1 + rng.int(4); n > 0; n--) {
        const at = rng.int(flipped.length);
        flipped[at] = (flipped[at] ?? 0) ^ (1 << rng.int(8));
      }
      return flipped;
    }
    case 2:
      return base.subarray(0, rng.int(base.length));
    case 3: {
      const cut = rng.int(base.length);
      const tail = rng.bytes(1 + rng.int(16));
      const out = new Uint8Array(cut + tail.length);
      out.set(base.subarray(0, cut));
      out.set(tail, cut);
      return out;
    }
    case 4:
      return hostileFrame(rng);
    default: {
      // Two valid frames back to back are one valid frame (protobuf merges them).
      const other = rng.pick(valid);
      const out = new Uint8Array(base.length + other.length);
      out.set(base);
      out.set(other, base.length);
      return out;
    }
  }
}

/** Sends one frame, then a ping: the pong means the server has dealt with the frame. */
function sendAndSync(ws: WebSocket, frame: Uint8Array): Promise<'alive' | 'closed'> {
  return new Promise((resolve) => {
    const onClose = (): void => resolve('closed');
    ws.once('close', onClose);
    ws.once('pong', () => {
      ws.off('close', onClose);
      resolve('alive');
    });
    ws.send(frame);
    ws.ping();
  });
}

/** One raw client sending `count` frames, reconnecting (with `connect`) whenever it is closed. */
async function attack(count: number, rng: Prng, valid: readonly Uint8Array[], connect: () => Promise<WebSocket>): Promise<number> {
  let connections = 0;
  let ws: WebSocket | null = null;
  for (let sent = 0; sent < count; sent++) {
    if (!ws) {
      ws = await connect();
      connections++;
    }
    if ((await sendAndSync(ws, mutate(rng, valid))) === 'closed') ws = null;
  }
  ws?.terminate();
  return connections;
}

describe('fuzzing a live transport', () => {
  let a: WsTransport | undefined;
  let b: WsTransport | undefined;
  after(() => closeAll(a, b));

  it(`survives ${2 * FRAMES_PER_PHASE} hostile frames and still serves a real peer`, { timeout: 240_000 }, async (t) => {
    t.diagnostic(`FUZZ_SEED=${seed}`);
    a = await startHost('a', { maxFrameBytes: 64 * 1024, handshakeTimeoutMs: 2_000 });
    b = await startHost('b');
    const atA = collect(a);
    await link(b, a);
    const valid = corpus();
    const address = a.address;
    const perClient = Math.ceil(FRAMES_PER_PHASE / CLIENTS);

    const before = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) => attack(perClient, new Prng(seed + i), valid, () => rawConnect(address))),
    );
    const afterAuth = await Promise.all(
      Array.from({ length: CLIENTS }, (_, i) =>
        attack(perClient, new Prng(seed + 1000 + i), valid, () =>
          rawDial(address, 'a', { hostId: `fuzzer-${i}`, secret: SECRET, incarnation: `fuzzer-${i}` }),
        ),
      ),
    );
    const sum = (xs: number[]): number => xs.reduce((x, y) => x + y, 0);
    t.diagnostic(`connections: ${sum(before)} before auth, ${sum(afterAuth)} after; items delivered: ${atA.length}`);

    // Every item that got through is one a real sender could have sent.
    for (const { item } of atA) checkOutgoing(item);
    assert.ok(atA.every(({ from }) => from === 'b' || from.startsWith('fuzzer-')));

    await waitFor('only the real link left', () => a?.socketCount() === 1, 10_000);
    assert.deepEqual(a.connectedHosts(), ['b']);
    const atB = collect(b);
    const fromB = atA.length;
    const ping = { kind: 'ping', sentAt: 1, liveness: 'up' } as const;
    assert.equal(a.send('b', ping), 'queued');
    assert.equal(b.send('a', ping), 'queued');
    a.flush();
    b.flush();
    await waitFor('a real exchange', () => atB.length === 1 && atA.length === fromB + 1);
  });
});
