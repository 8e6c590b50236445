// The Client's fleet operations against 3 in-process hosts set up as `flotilla host` sets them up
// (an OpsTransport over the ws transport): the client knows one host's address and learns the
// rest from the fleet view, adds groups (with the host's checks), reaches groups placed on hosts
// it was never told about, and drains a host.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { OpsTransport } from '../../src/cli/ops-server.js';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError } from '../../src/errors.js';
import { Host } from '../../src/host.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { counter } from '../fleet/harness.js';

const SECRET = 'fleet ops test secret';

async function startHost(id: string, zone: string, join: string[]): Promise<Host> {
  const ws = await WsTransport.start({ hostId: id, listen: '127.0.0.1:0', secret: SECRET });
  const transport = new OpsTransport(ws, pino({ level: 'silent' }));
  const host = await Host.start({ id, advertise: ws.address, join, storage: 'memory', machines: { counter }, transport, tickMs: 20, reconcileMs: 50 });
  transport.attach(host);
  await host.activate(zone);
  return host;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (err: unknown) => err instanceof FlotillaError && err.code === code);
}

describe('client fleet operations', () => {
  const hosts: Host[] = [];
  let client: Client;

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    hosts.push(h1, await startHost('h2', 'b', [`h1@${h1.address}`]), await startHost('h3', 'a', [`h1@${h1.address}`]));
    client = await connect({ hosts: [h1.address], secret: SECRET });
  });

  after(async () => {
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it('learns every host from one and reaches groups placed anywhere', async () => {
    const view = await client.fleet();
    assert.deepEqual(Object.values(view.hosts).flat().map((h) => h.id).sort(), ['h1', 'h2', 'h3']);
    const names = ['g1', 'g2', 'g3', 'g4'];
    for (const name of names) await client.addGroup(name, { machine: 'counter', replicas: 1 });
    const placed = (await client.fleet()).groups.filter((g) => names.includes(g.name));
    assert.ok(placed.some((g) => g.placement[0] !== 'h1'), `some group lives off h1: ${JSON.stringify(placed)}`);
    for (const name of names) assert.equal(await client.command(name, { op: 'inc', by: 1 }), 1);
    assert.deepEqual(client.connectedHosts().sort(), ['h1', 'h2', 'h3']);
  });

  it('refuses what the host refuses', async () => {
    await rejectsWith(client.addGroup('g1', { machine: 'counter' }), 'GROUP_EXISTS');
    await rejectsWith(client.addGroup('g9', { machine: 'nope' }), 'NO_SUCH_MACHINE');
    await rejectsWith(client.addGroup('g9', { machine: 'counter', replicas: 99 }), 'BAD_ARGUMENT');
    await rejectsWith(client.addGroup('no good', { machine: 'counter' }), 'BAD_NAME');
    await rejectsWith(client.deactivate('h9'), 'BAD_ARGUMENT');
  });

  it('drains a host; its groups keep answering', async () => {
    await client.addGroup('orders', { machine: 'counter', replicas: 3 });
    await client.command('orders', { op: 'inc', by: 5 });
    await client.deactivate('h3', { timeoutMs: 30_000 });
    const view = await client.fleet();
    assert.equal(Object.values(view.hosts).flat().find((h) => h.id === 'h3')?.state, 'inactive');
    assert.ok(view.groups.every((g) => !g.placement.includes('h3')));
    assert.equal(await client.command('orders', { op: 'inc', by: 1 }), 6);
    await rejectsWith(client.deactivate('h3'), 'NOT_ACTIVE');
  });
});
