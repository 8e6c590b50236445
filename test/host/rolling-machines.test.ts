// The rolling upgrade that adds a machine (README, Operate; docs/OPERATIONS.md): 3 hosts over
// WebSockets on data directories, restarted one at a time with a module that adds machine `kv`.
// While only h1 runs it, `add-group --machine kv --replicas 3` fails at once with NO_SUCH_MACHINE
// naming h1 and leaves nothing in the metadata; a 2-replica group is placed on the 2 hosts that
// run it, and moves to the third once it runs it too and placement prefers it; once every host runs
// it, the 3-replica group is added and serves. The groups of the old machine keep answering
// through every restart. A host restarted without a machine its replicas run does not start.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import type { AnyMachine } from '../../src/host/options.js';
import { place } from '../../src/fleet/placement.js';
import { counter, waitFor } from '../fleet/harness.js';

const SECRET = 'rolling machines test secret';
const ZONES: Record<string, string> = { h1: 'a', h2: 'b', h3: 'a' };

/** The machine the upgrade adds: a map of strings. */
const kv: AnyMachine = {
  init: () => ({}),
  command: (s, cmd) => {
    const { key, value } = cmd as { key: string; value: string };
    return { state: { ...(s as Record<string, string>), [key]: value }, reply: value };
  },
  query: (s, q) => (s as Record<string, string>)[(q as { key: string }).key] ?? null,
  snapshot: (s) => new TextEncoder().encode(JSON.stringify(s)),
  restore: (b) => JSON.parse(new TextDecoder().decode(b)) as Record<string, string>,
};

const OLD = { counter };
const NEW = { counter, kv };
/** A 2-replica group that placement moves to h3 once h3 runs kv (h3 outscores h1 in zone a). */
const PAIR = Array.from({ length: 50 }, (_, i) => `pair${i}`).find((name) => place(name, 2, Object.entries(ZONES).map(([id, zone]) => ({ id, zone }))).includes('h3'))!;

describe('a rolling restart that adds a machine', { timeout: 120_000 }, () => {
  let dir: string;
  const hosts = new Map<string, Host>();
  const ports = new Map<string, string>();
  let client: Client;

  async function start(id: string, machines: Record<string, AnyMachine>): Promise<Host> {
    const listen = `127.0.0.1:${ports.get(id) ?? '0'}`;
    const seeds = [...hosts.entries()].filter(([other]) => other !== id).map(([other, h]) => `${other}@${h.address}`);
    const host = await Host.start({ id, listen, join: seeds, secret: SECRET, storage: 'lmdb', dataDir: join(dir, id), machines, tickMs: 20, reconcileMs: 50 });
    await host.activate(ZONES[id]!);
    ports.set(id, host.address.split(':').at(-1)!);
    hosts.set(id, host);
    return host;
  }

  /** Stops `id` (no drain: a restart) and starts it again on its data with `machines`. */
  async function restart(id: string, machines: Record<string, AnyMachine>): Promise<void> {
    const old = hosts.get(id)!;
    hosts.delete(id);
    await old.stop();
    await start(id, machines);
    // Every host sees what it registered, and the old machine's group answers through it.
    const want = Object.keys(machines).sort();
    await waitFor(`every host to see ${id}'s machines ${want.join(',')}`, () =>
      [...hosts.values()].every((h) => JSON.stringify(Object.values(h.hosts()).flat().find((r) => r.id === id)?.machines) === JSON.stringify(want)),
    );
  }

  async function rejection(promise: Promise<unknown>): Promise<FlotillaError> {
    try {
      await promise;
    } catch (err) {
      if (err instanceof FlotillaError) return err;
      throw err;
    }
    assert.fail('expected a refusal');
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flotilla-rolling-'));
    for (const id of ['h1', 'h2', 'h3']) await start(id, OLD);
    client = await connect({ hosts: [hosts.get('h1')!.address], secret: SECRET });
    await client.addGroup('orders', { machine: 'counter', replicas: 3 });
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 1);
  });

  after(async () => {
    await client?.close();
    for (const h of hosts.values()) await h.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses the new machine at once while one host runs it, naming it, and leaves nothing behind', async () => {
    await restart('h1', NEW);
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 2);
    const view = await client.fleet();
    assert.deepEqual(Object.fromEntries(Object.values(view.hosts).flat().map((h) => [h.id, h.machines])), { h1: ['counter', 'kv'], h2: ['counter'], h3: ['counter'] });

    const started = Date.now();
    const err = await rejection(client.addGroup('users', { machine: 'kv', replicas: 3, timeoutMs: 10_000 }));
    assert.equal(err.code, 'NO_SUCH_MACHINE');
    assert.equal(err.message, 'machine "kv" is registered on 1 host (h1); group needs 3. Machines: counter on h1,h2,h3; kv on h1');
    assert.ok(Date.now() - started < 2000, `refused at once, not after a timeout (${Date.now() - started} ms)`);
    // Asked of a host that does not run it, in process: the same refusal, with the details.
    const direct = await rejection(hosts.get('h2')!.addGroup('users', { machine: 'kv', replicas: 3 }));
    assert.equal(direct.code, 'NO_SUCH_MACHINE');
    assert.deepEqual(direct.details.hosts, ['h1']);
    assert.deepEqual(direct.details.machines, { counter: ['h1', 'h2', 'h3'], kv: ['h1'] });
    for (const h of hosts.values()) assert.ok(!h.groups().some((g) => g.name === 'users'), `no group users in ${h.id}'s metadata`);
    assert.ok(!(await client.fleet()).groups.some((g) => g.name === 'users'));
  });

  it('places a group only on the hosts that run its machine', async () => {
    await restart('h2', NEW);
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 3);
    await client.addGroup(PAIR, { machine: 'kv', replicas: 2 });
    assert.deepEqual([...hosts.get('h3')!.placement(PAIR)].sort(), ['h1', 'h2']);
    assert.equal(await client.command(PAIR, { key: 'k', value: 'v' }), 'v');
    await rejection(client.addGroup('users', { machine: 'kv', replicas: 3 })).then((e) => assert.equal(e.code, 'NO_SUCH_MACHINE'));
  });

  it('adds the group once every host runs the machine, and it serves', async () => {
    await restart('h3', NEW);
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 4);
    await client.addGroup('users', { machine: 'kv', replicas: 3 });
    assert.equal(await client.command('users', { key: 'ada', value: 'lovelace' }), 'lovelace');
    assert.equal(await client.query('users', { key: 'ada' }), 'lovelace');
    await waitFor('users to have 3 voters on h1, h2, h3', async () => {
      const g = (await client.fleet()).groups.find((x) => x.name === 'users');
      return g !== undefined && JSON.stringify([...(g.voters ?? [])].sort()) === '["h1","h2","h3"]';
    });
    // h3 gaining the machine moves the 2-replica group to where placement now wants it, with its data.
    assert.deepEqual([...hosts.get('h1')!.placement(PAIR)].sort(), ['h2', 'h3']);
    await waitFor(`${PAIR} to move onto h3`, async () => {
      const g = (await client.fleet()).groups.find((x) => x.name === PAIR);
      return g !== undefined && JSON.stringify([...(g.voters ?? [])].sort()) === '["h2","h3"]';
    });
    assert.equal(await client.query(PAIR, { key: 'k' }), 'v', 'the 2-replica group kept its data');
  });

  it('a host does not start without a machine one of its replicas runs, and says which', async () => {
    const old = hosts.get('h3')!;
    hosts.delete('h3');
    await old.stop();
    await assert.rejects(start('h3', OLD), (err: unknown) => err instanceof FlotillaError && err.code === 'NO_SUCH_MACHINE' && /group (users|pair\d+) runs machine "kv", which this host does not register \(it runs counter\)/.test(err.message));
    // Its data is untouched: with the machine back it starts, and the group still has it.
    await start('h3', NEW);
    assert.equal(await client.query('users', { key: 'ada' }, { consistency: 'linearizable' }), 'lovelace');
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 5);
  });
});
