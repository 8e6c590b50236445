// client.deactivate and client.activate against 3 hosts embedded with Host.start over the real
// transport: a drain reports the members left on the host, decreasing to 0; activate brings the
// host back without a restart (placement puts members on it again, commands work through it);
// a malformed or impossible activate is refused with a typed error; an activate while the drain
// is stuck (a group whose machine only that host runs cannot move) cancels it.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter, waitFor } from '../fleet/harness.js';

const SECRET = 'lifecycle test secret';
const GROUPS = 6;

async function startHost(id: string, zone: string, join: string[], machines: Record<string, typeof counter> = { counter }): Promise<Host> {
  const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines, tickMs: 20, reconcileMs: 50 });
  await host.activate(zone);
  return host;
}

async function rejectsWith(promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof FlotillaError && err.code === code && (pattern === undefined || pattern.test(err.message)));
}

describe('client lifecycle verbs', () => {
  const hosts: Host[] = [];
  let client: Client;

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    hosts.push(h1, await startHost('h2', 'b', [`h1@${h1.address}`]), await startHost('h3', 'a', [`h1@${h1.address}`], { counter, onlyOnH3: counter }));
    client = await connect({ hosts: [h1.address], secret: SECRET });
    for (let g = 0; g < GROUPS; g++) await client.addGroup(`g${g}`, { machine: 'counter', replicas: 3 });
  });

  after(async () => {
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it('deactivates with the members left reported, then activates again without a restart', async () => {
    const h3 = hosts[2]!;
    await waitFor('h3 holds every group', () => h3.memberCount >= GROUPS);
    const counts: number[] = [];
    await client.deactivate('h3', { timeoutMs: 30_000, onProgress: (_fleet, left) => void (left !== null && counts.push(left)) });
    assert.ok(counts.length > 0 && counts[0]! > 0, `counts ${counts.join(',')}`);
    assert.equal(counts.at(-1), 0);
    assert.ok(counts.every((n, i) => i === 0 || n <= counts[i - 1]!), `never more members left than before: ${counts.join(',')}`);
    assert.equal(h3.localState, 'inactive');

    const { zone } = await client.activate('h3');
    assert.equal(zone, 'a', 'the zone it was active in');
    assert.equal(h3.localState, 'active');
    const view = await client.fleet();
    assert.equal(Object.values(view.hosts).flat().find((h) => h.id === 'h3')?.state, 'active');
    // 3 hosts, 3 replicas: every group is placed on h3 again and gets a voter there.
    assert.ok(view.groups.every((g) => g.placement.includes('h3')));
    await waitFor('h3 votes in every group', () => [...Array(GROUPS).keys()].every((g) => h3.status().members.some((m) => m.group === `g${g}` && m.role !== 'learner')));
    for (let g = 0; g < GROUPS; g++) assert.equal(typeof (await h3.command(`g${g}`, { op: 'inc', by: 1 })), 'number');
    assert.ok(hosts.some((h) => h.metrics().fleetOps.activate > 0));
  });

  it('refuses an activate it cannot do, with a typed error', async () => {
    await rejectsWith(client.activate('h9'), 'BAD_ARGUMENT', /no host h9/);
    await rejectsWith(client.activate('no good'), 'BAD_NAME');
    await rejectsWith(client.activate('h3', { zone: 'b' }), 'BAD_ARGUMENT', /active in zone a/);
    // Already active in its zone: nothing to do, and said so by succeeding.
    assert.deepEqual(await client.activate('h2'), { zone: 'b' });
  });

  it('activate while the drain is under way cancels it: deactivate fails BAD_ARGUMENT, the host stays active', async () => {
    const h3 = hosts[2]!;
    // Only h3 runs its machine: this group cannot leave h3, so the drain cannot end by itself.
    await client.addGroup('stuck', { machine: 'onlyOnH3', replicas: 1 });
    let activated: Promise<unknown> | undefined;
    const drain = client.deactivate('h3', {
      timeoutMs: 30_000,
      onProgress: (fleet, left) => {
        const state = Object.values(fleet.hosts).flat().find((h) => h.id === 'h3')?.state;
        if (state === 'deactivating' && left !== null && left > 0) activated ??= client.activate('h3');
      },
    });
    await rejectsWith(drain, 'BAD_ARGUMENT', /activated again while draining/);
    assert.deepEqual(await activated, { zone: 'a' });
    assert.equal(h3.localState, 'active');
    assert.equal(await client.command('stuck', { op: 'inc', by: 2 }), 2);
    await waitFor('h3 votes in every group again', () => [...Array(GROUPS).keys()].every((g) => h3.status().members.some((m) => m.group === `g${g}` && m.role !== 'learner')));
  });
});
