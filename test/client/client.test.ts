// The Client against an in-process fleet of 3 Hosts on the ws transport (loopback, port 0, memory
// storage): commands and queries by group name, the hosts' error codes, exactly-once increments
// while the leader's host stops under load, a wrong secret, an unreachable fleet.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter, waitFor } from '../fleet/harness.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'client test secret';

async function startHost(id: string, join: string[]): Promise<Host> {
  return Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { counter }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 2000 });
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<FlotillaError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof FlotillaError, `expected a FlotillaError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but it succeeded`);
}

describe('client', () => {
  const hosts: Host[] = [];
  let client: Client;

  before(async () => {
    hosts.push(...(await activateThreeHosts(startHost)));
    const h1 = hosts[0]!;
    await h1.addGroup('orders', { machine: 'counter', replicas: 3 });
    client = await connect({ hosts: hosts.map((h) => h.address), secret: SECRET, timeoutMs: 10_000 });
  });

  after(async () => {
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it('commands and queries a group by name, with every consistency', async () => {
    assert.match(client.id, /^client-[0-9a-f]+$/);
    const before = await client.query<number>('orders', null);
    assert.equal(await client.command('orders', { op: 'inc', by: 2 }), before + 2);
    assert.equal(await client.query('orders', null), before + 2);
    assert.equal(await client.query('orders', null, { consistency: 'lease' }), before + 2);
    const local = await client.query<number>('orders', null, { consistency: 'local' });
    assert.ok(local <= before + 2);
  });

  it('gives the same error codes as host.command', async () => {
    await rejectsWith(client.command('no-such-group', { op: 'inc', by: 1 }), 'NO_SUCH_GROUP');
    const failed = await rejectsWith(client.command('orders', { op: 'fail' }), 'COMMAND_FAILED');
    assert.match(failed.message, /counter refuses/);
    await rejectsWith(client.command('bad name!', {}), 'BAD_NAME');
    await rejectsWith(client.query('orders', null, { consistency: 'eventual' as 'local' }), 'BAD_ARGUMENT');
  });

  it('gets the fleet view from hosts embedded with Host.start', async () => {
    const view = await client.fleet();
    assert.deepEqual(Object.values(view.hosts).flat().map((h) => `${h.id}:${h.state}`).sort(), ['h1:active', 'h2:active', 'h3:active']);
    const orders = view.groups.find((g) => g.name === 'orders');
    assert.equal(orders?.placement.length, 3);
    assert.ok(orders?.leader !== null && orders?.placement.includes(orders.leader), `orders has a placed leader: ${JSON.stringify(orders)}`);
  });

  it('removes a group through the cluster group', async () => {
    await hosts[0]!.addGroup('scratch', { machine: 'counter', replicas: 1 });
    assert.equal(await client.command('scratch', { op: 'inc', by: 1 }), 1);
    await client.removeGroup('scratch');
    await rejectsWith(client.command('scratch', { op: 'inc', by: 1 }), 'NO_SUCH_GROUP');
    await rejectsWith(client.removeGroup('scratch'), 'NO_SUCH_GROUP');
  });

  it('applies every acknowledged increment once while the leader host stops', async () => {
    const start = await client.query<number>('orders', null);
    const leaderId = await hosts[0]!.whereIsLeader('orders');
    assert.ok(leaderId !== null);
    const leader = hosts.find((h) => h.id === leaderId)!;
    let acked = 0;
    let ackedAfterStop = -1;
    const replies = new Set<number>();
    // Four writers keep commands in flight across the leader change, until 30 more are acknowledged.
    const writers = Array.from({ length: 4 }, async () => {
      while (ackedAfterStop < 30) {
        const reply = await client.command<number>('orders', { op: 'inc', by: 1 }, { timeoutMs: 15_000 });
        replies.add(reply);
        acked++;
        if (ackedAfterStop >= 0) ackedAfterStop++;
      }
    });
    await waitFor('some commands before the stop', () => acked >= 10);
    await leader.stop();
    hosts.splice(hosts.indexOf(leader), 1);
    ackedAfterStop = 0;
    await Promise.all(writers);
    const final = await client.query<number>('orders', null, { timeoutMs: 15_000 });
    assert.equal(final - start, acked, 'each acknowledged increment applied exactly once');
    assert.equal(replies.size, acked, 'every reply is a distinct count');
    const newLeader = await hosts[0]!.whereIsLeader('orders', { timeoutMs: 5000 });
    assert.notEqual(newLeader, leaderId);
  });

  it('fails calls in flight and later ones with SHUTTING_DOWN once closed', async () => {
    const other = await connect({ hosts: [hosts[0]!.address], secret: SECRET });
    const inFlight = rejectsWith(other.command('orders', { op: 'inc', by: 1 }), 'SHUTTING_DOWN');
    await other.close();
    await inFlight;
    await rejectsWith(other.query('orders', null), 'SHUTTING_DOWN');
  });

  it('refuses a wrong secret with TRANSPORT_AUTH', async () => {
    const err = await rejectsWith(connect({ hosts: [hosts[0]!.address], secret: 'not the secret', timeoutMs: 3000 }), 'TRANSPORT_AUTH');
    assert.match(err.message, /secret/);
  });

  it('reports an unreachable fleet as UNAVAILABLE', async () => {
    await rejectsWith(connect({ hosts: ['127.0.0.1:1'], secret: SECRET, timeoutMs: 1000 }), 'UNAVAILABLE');
    await rejectsWith(connect({ hosts: [], secret: SECRET }), 'BAD_ARGUMENT');
  });
});
