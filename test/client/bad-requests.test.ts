// Requests a host must refuse at once, sent raw over the real transport (a peer that knows the
// secret but not the rules, as a router of another version or a hand-written client would be):
// three Hosts on the ws transport (loopback, memory storage). A bad group name is BAD_NAME and a
// command over maxCommandBytes or a query over maxQueryBytes is BAD_ARGUMENT naming the limit,
// from the leader's host and from a follower's alike (issue 14: a bad name was answered TIMEOUT
// after 5 s, having been bounced as NOT_LEADER). A connect() client refuses the same requests
// without sending anything, and names the group of a value with no JSON encoding.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { WebSocket } from 'ws';
import { connect, type Client } from '../../src/client/client.js';
import { OPS_GROUP, encodeOps } from '../../src/fleet/ops-protocol.js';
import { FlotillaError } from '../../src/common/errors.js';
import { fleetLimits } from '../../src/fleet/limits.js';
import { Host } from '../../src/host/host.js';
import { decodeFrame, encodeFrame } from '../../src/transport/codec.js';
import type { ClientRequestItem, ClientResponseItem } from '../../src/transport/items.js';
import { counter } from '../fleet/harness.js';
import { rawDial } from '../transport/fixtures/raw-peer.js';
import { within } from '../transport/fixtures/wait.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'bad requests test secret';
const GROUP = 'orders';
const { maxCommandBytes, maxQueryBytes } = fleetLimits(4 * 1024 * 1024);
/** Far beyond any answer given at once; the requests carry a deadline longer than this. */
const ANSWER_MS = 4000;
const encoder = new TextEncoder();

/** A raw peer's requests and their answers, matched by request id. */
class RawClient {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: ClientResponseItem) => void>();

  constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      for (const item of decodeFrame(data)) {
        if (item.kind === 'clientResponse') this.waiting.get(item.requestId)?.(item);
      }
    });
  }

  /** Sends one request (a command in session 'raw-client' unless told otherwise) and waits for its answer. */
  ask(fields: Partial<ClientRequestItem>): Promise<ClientResponseItem> {
    const requestId = this.nextId++;
    const item: ClientRequestItem = {
      kind: 'clientRequest', requestId, group: GROUP, requestKind: 'command', payload: encoder.encode('{"op":"inc","by":1}'),
      clientId: 'raw-client', seq: requestId, ackedBelow: requestId, consistency: 'linearizable', timeoutMs: 10_000, ...fields,
    };
    const answered = new Promise<ClientResponseItem>((resolve) => this.waiting.set(requestId, resolve));
    this.ws.send(encodeFrame([item]));
    return within(`the answer to request ${requestId} (${item.group})`, answered, ANSWER_MS);
  }
}

function refused(response: ClientResponseItem, code: string, message: RegExp): void {
  assert.ok(response.error !== null, `expected ${code}, got a reply`);
  assert.equal(response.error.code, code, response.error.message);
  assert.match(response.error.message, message);
}

describe('bad requests over the wire', () => {
  const hosts: Host[] = [];
  const raw = new Map<string, RawClient>();
  const sockets: WebSocket[] = [];
  let leader: Host;
  let follower: Host;
  let client: Client;

  const start = (id: string, join: string[]): Promise<Host> =>
    Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { counter }, tickMs: 20, reconcileMs: 50 });

  before(async () => {
    hosts.push(...(await activateThreeHosts(start)));
    const h1 = hosts[0]!;
    await h1.addGroup(GROUP, { machine: 'counter', replicas: 3 });
    const leaderId = await h1.whereIsLeader(GROUP);
    leader = hosts.find((h) => h.id === leaderId)!;
    follower = hosts.find((h) => h.id !== leaderId)!;
    for (const h of [leader, follower]) {
      const ws = await rawDial(h.address, h.id, { hostId: `raw-client-${h.id}`, secret: SECRET });
      sockets.push(ws);
      raw.set(h.id, new RawClient(ws));
    }
    client = await connect({ hosts: hosts.map((h) => `${h.id}@${h.address}`), secret: SECRET });
  });

  /**
   * A well-formed command, answered without an error by whichever raw peer leads now (leadership
   * may move under a loaded machine: NOT_LEADER from one is a reason to ask the other).
   */
  async function commandWherever(): Promise<void> {
    const deadline = performance.now() + ANSWER_MS;
    let last: ClientResponseItem | null = null;
    while (performance.now() < deadline) {
      for (const r of raw.values()) {
        last = await r.ask({});
        if (last.error === null) return;
        assert.equal(last.error.code, 'NOT_LEADER', last.error.message);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`no raw peer took a command: ${JSON.stringify(last?.error)}`);
  }

  after(async () => {
    for (const ws of sockets) ws.terminate();
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it('serves a well-formed raw request, to a user group and to a reserved one', async () => {
    await commandWherever();
    const fleet = await raw.get(leader.id)!.ask({ group: OPS_GROUP, requestKind: 'query', payload: encodeOps({ op: 'fleet' }), clientId: '', seq: 0, ackedBelow: 0 });
    assert.equal(fleet.error, null);
  });

  it('answers a bad group name BAD_NAME at once, from the leader and from a follower', async () => {
    for (const h of [leader, follower]) {
      const r = raw.get(h.id)!;
      refused(await r.ask({ group: 'bad name!' }), 'BAD_NAME', /group name "bad name!" has " " at position 3/);
      refused(await r.ask({ group: '', requestKind: 'query' }), 'BAD_NAME', /must not be empty/);
      refused(await r.ask({ group: 'g'.repeat(129), requestKind: 'admin' }), 'BAD_NAME', /129 characters long/);
      refused(await r.ask({ group: '$clusters' }), 'BAD_NAME', /"\$"/);
    }
  });

  it('refuses a command over maxCommandBytes and a query over maxQueryBytes at once, naming the limit', async () => {
    for (const h of [leader, follower]) {
      const r = raw.get(h.id)!;
      refused(await r.ask({ payload: new Uint8Array(maxCommandBytes + 1) }), 'BAD_ARGUMENT', new RegExp(`${maxCommandBytes + 1} bytes, more than maxCommandBytes`));
      refused(await r.ask({ requestKind: 'query', payload: new Uint8Array(maxQueryBytes + 1) }), 'BAD_ARGUMENT', new RegExp(`${maxQueryBytes + 1} bytes, more than maxQueryBytes`));
      refused(await r.ask({ clientId: 'c'.repeat(1025) }), 'BAD_ARGUMENT', /client id is 1025 bytes/);
    }
    // Nothing was proposed, and the group takes commands.
    await commandWherever();
  });

  it('refuses the same through connect() before anything is sent', async () => {
    const before = client.stats().requestsSent;
    for (const [group, code] of [['bad name!', 'BAD_NAME'], ['', 'BAD_NAME'], ['$cluster', 'BAD_NAME']] as const) {
      await assert.rejects(client.command(group, { op: 'inc', by: 1 }), (err: unknown) => err instanceof FlotillaError && err.code === code);
    }
    const big = { op: 'inc', by: 1, pad: 'x'.repeat(maxCommandBytes) };
    await assert.rejects(client.command(GROUP, big), (err: unknown) => err instanceof FlotillaError && err.code === 'BAD_ARGUMENT' && /maxCommandBytes/.test(err.message));
    await assert.rejects(client.command(GROUP, { op: 'inc', by: 1n }), (err: unknown) => err instanceof FlotillaError && err.code === 'BAD_ARGUMENT' && /^group orders: the command has no JSON encoding: it holds a BigInt/.test(err.message));
    await assert.rejects(client.query(GROUP, () => 1), (err: unknown) => err instanceof FlotillaError && err.code === 'BAD_ARGUMENT' && /^group orders: the query has no JSON encoding: it is a function/.test(err.message));
    assert.equal(client.stats().requestsSent - before, 0, 'no request left the client');
  });
});
