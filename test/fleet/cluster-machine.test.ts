import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterMachine, type ClusterCommand, type ClusterState } from '../../src/fleet/cluster-machine.js';

function run(state: ClusterState, cmd: ClusterCommand) {
  return clusterMachine.command(state, cmd).reply;
}

function fleet(): ClusterState {
  const s = clusterMachine.init();
  for (const [id, zone] of [['h1', 'a'], ['h2', 'b'], ['h3', 'a'], ['h4', 'b']] as const) {
    run(s, { op: 'activateHost', id, zone, address: `${id}:1`, incarnation: `inc-${id}`, activation: 'a1' });
  }
  return s;
}

describe('cluster metadata machine', () => {
  it('places a new group on active hosts across zones and gives it the next id', () => {
    const s = fleet();
    const reply = run(s, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 3, config: {} });
    assert.ok(reply.ok && reply.group);
    assert.equal(reply.group.id, 1);
    assert.equal(reply.group.founders.length, 3);
    const zones = new Set(reply.group.founders.map((m) => s.hosts[m.split('~')[0]!]!.zone));
    assert.equal(zones.size, 2);
    assert.ok(reply.group.founders.every((m) => m.endsWith('~1')));
    const second = run(s, { op: 'addGroup', name: 'users', machine: 'kv', replicas: 3, config: {} });
    assert.ok(second.ok && second.group?.id === 2);
  });

  it('refuses a duplicate group, an unknown group, and a host id with another data directory, with codes', () => {
    const s = fleet();
    run(s, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 3, config: {} });
    assert.deepEqual(pick(run(s, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 3, config: {} })), 'GROUP_EXISTS');
    assert.deepEqual(pick(run(s, { op: 'removeGroup', name: 'nope' })), 'NO_SUCH_GROUP');
    assert.deepEqual(pick(run(s, { op: 'activateHost', id: 'h1', zone: 'a', address: 'x:1', incarnation: 'other', activation: 'a2' })), 'BAD_ARGUMENT');
    assert.equal(s.hosts.h1!.incarnation, 'inc-h1');
  });

  it('does not place groups on hosts that are not active, and keeps ids unique after removals', () => {
    const s = fleet();
    run(s, { op: 'setHostState', id: 'h2', state: 'deactivating', incarnation: 'inc-h2' });
    run(s, { op: 'setHostState', id: 'h4', state: 'failed', incarnation: 'inc-h4' });
    const reply = run(s, { op: 'addGroup', name: 'g', machine: 'counter', replicas: 3, config: {} });
    assert.ok(reply.ok && reply.group);
    assert.deepEqual([...reply.group.founders].sort(), ['h1~1', 'h3~1']);
    run(s, { op: 'removeGroup', name: 'g' });
    const again = run(s, { op: 'addGroup', name: 'g', machine: 'counter', replicas: 3, config: {} });
    assert.ok(again.ok && again.group?.id === 2);
  });

  it('a draining host that failed and is heard again goes back to draining, not to active', () => {
    const s = fleet();
    run(s, { op: 'setHostState', id: 'h2', state: 'deactivating', incarnation: 'inc-h2' });
    run(s, { op: 'setHostState', id: 'h2', state: 'failed', incarnation: 'inc-h2' });
    assert.equal(s.hosts.h2!.resumeState, 'deactivating');
    run(s, { op: 'setHostState', id: 'h2', state: s.hosts.h2!.resumeState!, incarnation: 'inc-h2' });
    assert.equal(s.hosts.h2!.state, 'deactivating');
    assert.equal(s.hosts.h2!.resumeState, undefined);
    // A marking decided on an older view (h2 was failed then) does not apply.
    assert.equal(pick(run(s, { op: 'setHostState', id: 'h2', state: 'active', incarnation: 'inc-h2', from: 'failed' })), 'BAD_ARGUMENT');
    assert.equal(s.hosts.h2!.state, 'deactivating');
  });

  it('a late attempt of an activation already applied changes nothing: the host may be draining by now', () => {
    const s = fleet();
    run(s, { op: 'setHostState', id: 'h2', state: 'deactivating', incarnation: 'inc-h2' });
    // The same activate() call's attempt through another seed host, delivered after the drain began.
    const late = run(s, { op: 'activateHost', id: 'h2', zone: 'b', address: 'h2:1', incarnation: 'inc-h2', activation: 'a1' });
    assert.ok(late.ok);
    assert.equal(s.hosts.h2!.state, 'deactivating');
    // A new activate() call does activate it again.
    run(s, { op: 'activateHost', id: 'h2', zone: 'b', address: 'h2:1', incarnation: 'inc-h2', activation: 'a2' });
    assert.equal(s.hosts.h2!.state, 'active');
  });

  it('re-activating keeps the registration version; snapshots round-trip', () => {
    const s = fleet();
    const before = s.hosts.h3!.registeredAt;
    run(s, { op: 'setHostState', id: 'h3', state: 'failed', incarnation: 'inc-h3' });
    run(s, { op: 'activateHost', id: 'h3', zone: 'a', address: 'h3:2', incarnation: 'inc-h3', activation: 'a2' });
    assert.equal(s.hosts.h3!.registeredAt, before);
    assert.equal(s.hosts.h3!.address, 'h3:2');
    assert.deepEqual(clusterMachine.restore(clusterMachine.snapshot(s)), s);
  });
});

function pick(reply: ReturnType<typeof run>): string {
  return reply.ok ? 'ok' : reply.code;
}
