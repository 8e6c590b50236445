// The client's window, against a fake host that never answers a command until told to (a raw
// protocol peer: it knows the secret and answers the client's group lookup, nothing more). With
// maxInFlight 3 and maxQueued 2: three commands go out and a fourth waits; one whose deadline
// passes while it waits fails TIMEOUT saying it was never sent, and the host never sees it; a call
// beyond the queue is refused BUSY at once; an answer lets the oldest waiting call out; closing the
// client fails the waiting calls. Waits are on conditions with deadlines.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import type { ClusterReply, GroupRecord } from '../../src/fleet/cluster-machine.js';
import { CLUSTER_GROUP } from '../../src/fleet/cluster-machine.js';
import { decodeFrame, encodeFrame } from '../../src/transport/codec.js';
import type { ClientRequestItem } from '../../src/transport/items.js';
import { rawServer, type RawServer } from '../transport/fixtures/raw-peer.js';
import { waitFor } from '../transport/fixtures/wait.js';

const SECRET = 'window test secret';
const FAKE = 'fake';
const GROUP = 'orders';
const LONG_MS = 60_000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const record: GroupRecord = { name: GROUP, id: 1, machine: 'counter', replicas: 1, config: {}, createdAt: 1, founders: [`${FAKE}~1`] };

/** A host that answers group lookups and holds every command until `answer` is called. */
class FakeHost {
  readonly commands: ClientRequestItem[] = [];
  private socket: WebSocket | null = null;

  onAccepted(ws: WebSocket): void {
    this.socket = ws;
    ws.on('message', (data: Buffer) => {
      for (const item of decodeFrame(data)) {
        if (item.kind !== 'clientRequest') continue;
        if (item.group === CLUSTER_GROUP) this.reply(item, { ok: true, group: record } satisfies ClusterReply);
        else this.commands.push(item);
      }
    });
  }

  /** Answers the oldest command held. */
  answerOne(): void {
    const item = this.commands.shift();
    assert.ok(item !== undefined, 'a command to answer');
    this.reply(item, 1);
  }

  private reply(item: ClientRequestItem, value: unknown): void {
    const payload = encoder.encode(JSON.stringify(value));
    this.socket?.send(encodeFrame([{ kind: 'clientResponse', requestId: item.requestId, error: null, payload, leaderHint: FAKE, leaderTerm: 0 }]));
  }
}

async function rejection(call: Promise<unknown>): Promise<FlotillaError> {
  try {
    await call;
  } catch (err) {
    assert.ok(err instanceof FlotillaError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('the client window, against a host that holds its commands', () => {
  const fake = new FakeHost();
  let server: RawServer;
  let client: Client;
  const seen: number[] = [];

  before(async () => {
    server = await rawServer({ hostId: FAKE, secret: SECRET }, { onAccepted: (ws) => fake.onAccepted(ws) });
    client = await connect({ hosts: [`${FAKE}@${server.address}`], secret: SECRET, maxInFlight: 3, maxQueued: 2 });
  });

  after(async () => {
    await client.close();
    await server.close();
  });

  it('sends maxInFlight calls, queues the rest, and times a queued call out unsent', async () => {
    const running = [1, 2, 3].map((i) => client.command<number>(GROUP, { op: 'inc', i }, { timeoutMs: LONG_MS }).then((n) => void seen.push(n)));
    for (const r of running) r.catch(() => undefined);
    await waitFor('3 commands at the host', () => fake.commands.length === 3);
    const sentBefore = client.stats().requestsSent;
    const late = client.command(GROUP, { op: 'inc', i: 4 }, { timeoutMs: 200 });
    assert.equal(client.stats().queued, 1);
    const err = await rejection(late);
    assert.equal(err.code, 'TIMEOUT');
    assert.match(err.message, /waited its whole 200 ms for one of maxInFlight \(3\) slots and was never sent/);
    assert.equal(err.details.sent, false);
    assert.equal(fake.commands.length, 3, 'the host never saw it');
    assert.equal(client.stats().requestsSent, sentBefore);
    assert.deepEqual({ ...client.stats(), requestsSent: 0 }, { inFlight: 3, queued: 0, peakInFlight: 3, peakQueued: 1, started: 3, timedOutQueued: 1, refusedQueueFull: 0, requestsSent: 0 });
  });

  it('refuses a call beyond maxQueued BUSY at once, and lets the oldest waiting call out when a slot frees', async () => {
    const fifth = client.command<number>(GROUP, { op: 'inc', i: 5 }, { timeoutMs: LONG_MS });
    const sixth = client.command<number>(GROUP, { op: 'inc', i: 6 }, { timeoutMs: LONG_MS });
    const busy = await rejection(client.command(GROUP, { op: 'inc', i: 7 }, { timeoutMs: LONG_MS }));
    assert.equal(busy.code, 'BUSY');
    assert.match(busy.message, /maxQueued \(2\); not sent/);
    assert.equal(client.stats().queued, 2);

    fake.answerOne();
    await waitFor('the first answer', () => seen.length === 1);
    await waitFor('the oldest waiting call at the host', () => fake.commands.length === 3);
    assert.match(decoder.decode(fake.commands.at(-1)!.payload), /"i":5/);
    assert.equal(client.stats().queued, 1);

    const closing = Promise.all([rejection(fifth), rejection(sixth)]);
    await client.close();
    const [fifthErr, sixthErr] = await closing;
    assert.equal(fifthErr.code, 'SHUTTING_DOWN', 'in flight');
    assert.equal(sixthErr.code, 'SHUTTING_DOWN', 'waiting');
    assert.equal(client.stats().peakInFlight, 3);
  });

  it('refuses window limits that are not positive integers', async () => {
    for (const bad of [{ maxInFlight: 0 }, { maxQueued: -1 }, { maxInFlight: 1.5 }]) {
      const err = await rejection(connect({ hosts: [`${FAKE}@${server.address}`], secret: SECRET, ...bad }));
      assert.equal(err.code, 'BAD_ARGUMENT');
    }
  });
});
