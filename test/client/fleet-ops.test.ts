// The Client's fleet operations against 3 hosts embedded in this process with Host.start, as an
// application embeds them (no `flotilla host`): every Host answers them. The client knows one
// host's address and learns the rest from the fleet view, adds groups (with the host's checks),
// reaches groups placed on hosts it was never told about, and drains a host.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { OPS_GROUP } from '../../src/fleet/ops-protocol.js';
import { FlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { WsTransport } from '../../src/transport/ws-transport.js';
import { counter, waitFor } from '../fleet/harness.js';

const SECRET = 'fleet ops test secret';

async function startHost(id: string, zone: string, join: string[]): Promise<Host> {
  const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines: { counter }, tickMs: 20, reconcileMs: 50 });
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
    assert.ok(hosts.reduce((n, h) => n + h.metrics().fleetOps.errors, 0) >= 3, 'the hosts count the refusals');
  });

  it('refuses malformed fleet operations, and peers without the secret', async () => {
    // A raw transport speaking the protocol with bad payloads: each is refused BAD_ARGUMENT, not crashed on.
    const raw = await WsTransport.start({ hostId: 'raw-client', secret: SECRET });
    const answers = new Map<number, { code: string } | null>();
    raw.onItem((_from, item) => {
      if (item.kind === 'clientResponse') answers.set(item.requestId, item.error);
    });
    try {
      raw.addPeer('h1', hosts[0]!.address);
      await waitFor('the raw client to connect', () => raw.connectedHosts().includes('h1'));
      const payloads = ['not json', '[1]', '{"op":"explode"}', '{"op":"addGroup","name":"x"}', '{"op":"addGroup","name":"x","machine":"counter","timeoutMs":-1}', '{"op":"deactivate"}'];
      payloads.forEach((text, i) => {
        const payload = new TextEncoder().encode(text);
        raw.send('h1', { kind: 'clientRequest', requestId: i + 1, group: OPS_GROUP, requestKind: 'query', payload, consistency: 'linearizable', timeoutMs: 1000, clientId: '', seq: 0, ackedBelow: 0 });
      });
      raw.flush();
      await waitFor('every malformed request to be answered', () => answers.size === payloads.length);
      for (const [id, error] of answers) assert.equal(error?.code, 'BAD_ARGUMENT', `payload ${payloads[id - 1]}`);
    } finally {
      await raw.close();
    }
    assert.equal(hosts[0]!.localState, 'active', 'h1 was not deactivated by a malformed request');
    // The same request without the cluster secret never reaches the host.
    await rejectsWith(connect({ hosts: [hosts[0]!.address], secret: 'not the secret', timeoutMs: 2000 }), 'TRANSPORT_AUTH');
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
