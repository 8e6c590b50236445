// The log an operator reads (issue 17, point 7): what changes the fleet is logged at info once, by
// the host where it happens and naming who asked; connection churn (a client or CLI call coming
// and going) only at debug; and no line, even at debug, carries the cluster secret or a command's
// payload. Three hosts embedded here (memory storage, ws transport), each with its own log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { DRAIN_LOG_MS } from '../../src/fleet/fleet-events.js';
import { Host } from '../../src/host/host.js';
import { counter, waitFor } from '../fleet/harness.js';
import { INFO, LogCapture, findAll } from '../fixtures/log-capture.js';

const SECRET = 'fleet-logs-secret-5be1c0a7';
const PAYLOAD = 'payload-marker-93b1d4e2';

describe('the fleet log', () => {
  const hosts = new Map<string, Host>();
  const logs = new Map<string, LogCapture>();
  const clientLog = new LogCapture('debug');
  let client: Client;
  const all = () => [...logs.values(), clientLog];

  async function startHost(id: string, zone: string, join: string[]): Promise<Host> {
    const log = new LogCapture('debug');
    logs.set(id, log);
    const host = await Host.start({ id, listen: '127.0.0.1:0', join, secret: SECRET, storage: 'memory', machines: { counter }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 1000, logger: log.logger });
    hosts.set(id, host);
    await host.activate(zone);
    return host;
  }

  before(async () => {
    const h1 = await startHost('h1', 'a', []);
    await startHost('h2', 'b', [`h1@${h1.address}`]);
    await startHost('h3', 'a', [`h1@${h1.address}`]);
    await startHost('h4', 'b', [`h1@${h1.address}`]);
    client = await connect({ hosts: [h1.address], secret: SECRET, logger: clientLog.logger });
  });

  after(async () => {
    await client.close();
    for (const h of hosts.values()) await h.stop();
  });

  it('logs a host activating once, by the cluster leader, and the host itself saying it is active', () => {
    for (const id of ['h1', 'h2', 'h3', 'h4']) {
      assert.equal(findAll(logs.values(), 'host activated', { peer: id }, INFO).length, 1, id);
      assert.equal(logs.get(id)!.find('this host is active', { from: 'none' }, INFO).length, 1, id);
    }
  });

  it('logs a group added once, with the client that asked, and its leader elected', async () => {
    await client.addGroup('orders', { machine: 'counter', replicas: 3 });
    const asked = findAll(logs.values(), 'adding a group on request of a client', { group: 'orders', by: client.id }, INFO);
    assert.equal(asked.length, 1);
    const added = findAll(logs.values(), 'group added', { group: 'orders', machine: 'counter', replicas: 3 }, INFO);
    assert.equal(added.length, 1, JSON.stringify(added));
    // The cluster leader committed it for the host the client asked.
    assert.equal(added[0]!.by, asked[0]!.host);
    await waitFor('the leader of orders logged', () => findAll(logs.values(), 'leader elected', { group: 'orders' }, INFO).length > 0);
    const elected = findAll(logs.values(), 'leader elected', { group: 'orders' }, INFO)[0]!;
    assert.equal(typeof elected.term, 'number');
    assert.ok(hosts.has(elected.host as string));
  });

  it('logs a group removed once, naming the client', async () => {
    await client.addGroup('scratch', { machine: 'counter', replicas: 3 });
    await client.removeGroup('scratch');
    const removed = findAll(logs.values(), 'group removed', { group: 'scratch' }, INFO);
    assert.equal(removed.length, 1);
    assert.equal(removed[0]!.by, client.id);
  });

  it('logs a deactivation: who asked, the state changes once each, the drain and the replicas moved', async () => {
    for (let g = 0; g < 4; g++) await client.addGroup(`g${g}`, { machine: 'counter', replicas: 3 });
    const started = performance.now();
    await client.deactivate('h3');
    const elapsedMs = performance.now() - started;
    const h3 = logs.get('h3')!;
    assert.equal(h3.find('deactivating on request of a client', { by: client.id }, INFO).length, 1);
    assert.equal(findAll(logs.values(), 'host state change', { peer: 'h3', state: 'deactivating', by: 'h3' }, INFO).length, 1);
    assert.equal(findAll(logs.values(), 'host state change', { peer: 'h3', state: 'inactive', by: 'h3' }, INFO).length, 1);
    await waitFor('h3 saw itself inactive', () => h3.find('this host is inactive', {}, INFO).length > 0);
    assert.equal(h3.find('this host is deactivating', { from: 'active' }, INFO).length, 1);
    assert.equal(h3.find('this host is inactive', { from: 'deactivating' }, INFO).length, 1);
    // Each host logs its own state only.
    for (const id of ['h1', 'h2']) assert.equal(logs.get(id)!.find('this host is deactivating').length, 0, id);
    const draining = h3.find('draining', {}, INFO);
    assert.ok(draining.length >= 1);
    assert.ok(draining.length <= 2 + elapsedMs / DRAIN_LOG_MS, `${draining.length} drain lines in ${Math.round(elapsedMs)} ms`);
    // Each of h3's members is removed by its group's leader, once a learner elsewhere caught up.
    const removedHere = findAll(logs.values(), 'removing a member', { memberHost: 'h3' }, INFO);
    assert.ok(removedHere.length >= 5, `${removedHere.length} members of h3 removed`);
    assert.ok(findAll(logs.values(), 'adding a learner', {}, INFO).length >= 1);
    assert.ok(findAll(logs.values(), 'promoting a learner to voter', {}, INFO).length >= 1);
  });

  it('logs a host that stops answering marked failed once, and each host losing its connection', async () => {
    await hosts.get('h4')!.stop();
    await waitFor('h4 marked failed', () => findAll(logs.values(), 'host state change', { peer: 'h4', state: 'failed' }, INFO).length > 0);
    // Once the metadata says so, the cluster leader proposes it no more: it was logged once.
    await waitFor('the fleet lists h4 failed', async () => Object.values((await client.fleet()).hosts).flat().find((h) => h.id === 'h4')?.state === 'failed');
    const marked = findAll(logs.values(), 'host state change', { peer: 'h4', state: 'failed' }, INFO);
    assert.equal(marked.length, 1);
    assert.ok(['h1', 'h2'].includes(marked[0]!.by as string));
    assert.ok((marked[0]!.silentMs as number) >= 1000, JSON.stringify(marked[0]));
    for (const id of ['h1', 'h2']) assert.equal(logs.get(id)!.find('lost the connection to a host', { peer: 'h4' }, INFO).length, 1, id);
  });

  it('logs connection churn only at debug: a client connecting and closing', async () => {
    const other = await connect({ hosts: [hosts.get('h1')!.address], secret: SECRET });
    await other.fleet();
    await other.close();
    await waitFor('h1 saw the client go', () => logs.get('h1')!.find('peer down', { peer: other.id }).length > 0);
    const h1 = logs.get('h1')!;
    assert.equal(h1.find('peer up', { peer: other.id }).length, 1);
    assert.deepEqual(
      findAll(logs.values(), 'peer up', {}, INFO).concat(findAll(logs.values(), 'peer down', {}, INFO)),
      [],
    );
    assert.deepEqual(logs.get('h1')!.lines.filter((l) => l.peer === other.id && l.level > INFO - 10), []);
  });

  it('never logs the secret or a command payload, even at debug', async () => {
    assert.equal(await client.command('orders', { op: 'inc', by: 1, note: PAYLOAD }), 1);
    await assert.rejects(client.command('orders', { op: 'fail', note: PAYLOAD }));
    await client.query('orders', { note: PAYLOAD });
    await assert.rejects(client.command('no-such-group', { op: 'inc', by: 1, note: PAYLOAD }));
    const lines = all().flatMap((c) => c.raw);
    assert.ok(lines.length > 50, `${lines.length} lines`);
    // The search works: what may be logged (a group's name, a client's id) is there.
    assert.ok(lines.some((l) => l.includes('"orders"')) && lines.some((l) => l.includes(client.id)));
    assert.deepEqual(lines.filter((l) => l.includes(SECRET) || l.includes(PAYLOAD)), []);
  });
});
