// Commands at the exact size limit, over the real transport: three Hosts on the ws transport
// (loopback, memory storage) and a connect() client. The largest command a host accepts
// (maxCommandBytes) commits and is read back through the leader's host, a follower's host and the
// client; one byte more is refused BAD_ARGUMENT at once through each of them, nothing proposed, and
// so is, first, a command of the size that used to wedge its group (issue 14: 4,194,225 bytes,
// within the 4 MiB frame while the Append carrying it was not); the group keeps taking commands,
// and no host ever had an item refused as too large for a frame.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { fleetLimits } from '../../src/fleet/limits.js';
import { Host } from '../../src/host/host.js';
import type { AnyMachine } from '../../src/host/options.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'size limits test secret';
const GROUP = 'g2';
const { maxCommandBytes } = fleetLimits(4 * 1024 * 1024);
/** A command size inside the window that wedged a group before the limits (issue 14). */
const WEDGING_BYTES = 4_194_225;
/** Enough for a 4 MiB command on a loaded machine. */
const COMMAND_TIMEOUT_MS = 30_000;
/** A refusal comes at once; this deadline only bounds how long a wrong acceptance takes to show. */
const REFUSAL_TIMEOUT_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Keys to strings: {k, v} stores v under k and replies its length; a query {k} reads it, {k, twice} reads it twice over. */
const blobs: AnyMachine = {
  init: () => ({}),
  command: (s, cmd) => {
    const { k, v } = cmd as { k: string; v: string };
    return { state: { ...(s as Record<string, string>), [k]: v }, reply: v.length };
  },
  query: (s, q) => {
    const { k, twice } = q as { k: string; twice?: boolean };
    const v = (s as Record<string, string>)[k] ?? null;
    return twice === true && v !== null ? v + v : v;
  },
  snapshot: (s) => encoder.encode(JSON.stringify(s)),
  restore: (b) => JSON.parse(decoder.decode(b)) as Record<string, string>,
};

/** A command whose JSON encoding (what the router sends and the group proposes) is exactly `bytes` long. */
function put(k: string, bytes: number): { k: string; v: string } {
  const v = 'x'.repeat(bytes - JSON.stringify({ k, v: '' }).length);
  const cmd = { k, v };
  assert.equal(encoder.encode(JSON.stringify(cmd)).length, bytes);
  return cmd;
}

async function refusedAtOnce(call: Promise<unknown>, bytes: number): Promise<void> {
  await assert.rejects(call, (err: unknown) => {
    assert.ok(err instanceof FlotillaError, String(err));
    assert.equal(err.code, 'BAD_ARGUMENT', err.message);
    assert.match(err.message, new RegExp(`the command is ${bytes} bytes, more than maxCommandBytes \\(${maxCommandBytes} bytes\\)`));
    return true;
  });
}

describe('size limits over the ws transport', () => {
  const hosts: Host[] = [];
  let client: Client;
  let leader: Host;
  let follower: Host;

  const start = (id: string, join: string[]): Promise<Host> =>
    Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { blobs }, tickMs: 20, reconcileMs: 50, timeoutMs: COMMAND_TIMEOUT_MS });

  before(async () => {
    hosts.push(...(await activateThreeHosts(start)));
    const h1 = hosts[0]!;
    await h1.addGroup(GROUP, { machine: 'blobs', replicas: 3 });
    const leaderId = await h1.whereIsLeader(GROUP);
    leader = hosts.find((h) => h.id === leaderId)!;
    follower = hosts.find((h) => h !== leader)!;
    client = await connect({ hosts: hosts.map((h) => h.address), secret: SECRET, timeoutMs: COMMAND_TIMEOUT_MS });
  });

  after(async () => {
    await client?.close();
    for (const h of hosts) await h.stop();
  });

  const paths = (timeoutMs = COMMAND_TIMEOUT_MS): Array<[string, (cmd: unknown) => Promise<unknown>]> => [
    ['the leader', (cmd) => leader.command(GROUP, cmd, { timeoutMs })],
    ['a follower', (cmd) => follower.command(GROUP, cmd, { timeoutMs })],
    ['a client', (cmd) => client.command(GROUP, cmd, { timeoutMs })],
  ];
  const proposals = (): number => hosts.reduce((n, h) => n + h.metrics().proposals, 0);

  it('refuses the size that used to wedge the group at once through each path, proposing nothing', async () => {
    const before = proposals();
    // Before the limits this one was proposed, and its Append refused by the transport for ever.
    for (const [, command] of paths(REFUSAL_TIMEOUT_MS)) await refusedAtOnce(command(put('wedge', WEDGING_BYTES)), WEDGING_BYTES);
    assert.equal(proposals(), before);
  });

  it('commits the largest command through each path and reads it back', async () => {
    for (const [name, command] of paths()) {
      const cmd = put(name, maxCommandBytes);
      assert.equal(await command(cmd), cmd.v.length, name);
      assert.equal(await follower.query(GROUP, { k: name }), cmd.v, `${name}'s value, read through a follower`);
      assert.equal(await client.query(GROUP, { k: name }), cmd.v, `${name}'s value, read by the client`);
    }
  });

  it('refuses one byte more at once through each path, proposing nothing', async () => {
    const before = proposals();
    for (const [, command] of paths(REFUSAL_TIMEOUT_MS)) await refusedAtOnce(command(put('over', maxCommandBytes + 1)), maxCommandBytes + 1);
    assert.equal(proposals(), before);
  });

  it('fails a reply larger than a response carries at once (COMMAND_FAILED), through the leader, a follower and a client', async () => {
    const calls: Array<[string, Promise<unknown>]> = [
      ['the leader', leader.query(GROUP, { k: 'the leader', twice: true }, { timeoutMs: REFUSAL_TIMEOUT_MS })],
      ['a follower', follower.query(GROUP, { k: 'the leader', twice: true }, { timeoutMs: REFUSAL_TIMEOUT_MS })],
      ['a client', client.query(GROUP, { k: 'the leader', twice: true }, { timeoutMs: REFUSAL_TIMEOUT_MS })],
    ];
    // Settled together: awaited one by one, a later call that fails first would be a rejection nobody handles yet.
    const outcomes = await Promise.allSettled(calls.map(([, call]) => call));
    for (const [i, outcome] of outcomes.entries()) {
      const name = calls[i]![0];
      assert.ok(outcome.status === 'rejected', `${name}: expected a refusal, got ${outcome.status === 'fulfilled' ? String(outcome.value) : ''}`);
      const err: unknown = outcome.reason;
      assert.ok(err instanceof FlotillaError && err.code === 'COMMAND_FAILED', `${name}: ${String(err)}`);
      assert.match(err.message, /the query's reply is \d+ bytes, more than maxReplyBytes/);
    }
  });

  it('keeps taking commands, and no host had an item refused as too large for a frame', async () => {
    for (const [name, command] of paths()) assert.equal(await command({ k: `after ${name}`, v: 'ok' }), 2, name);
    assert.equal(await leader.query(GROUP, { k: 'after a client' }), 'ok');
    for (const h of hosts) assert.equal(h.metrics().transport.itemsTooLarge, 0, h.id);
  });
});
