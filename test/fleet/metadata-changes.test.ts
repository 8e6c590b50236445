import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clusterMachine } from '../../src/fleet/cluster-machine.js';
import { MetadataChanges, watchedClusterMachine } from '../../src/fleet/metadata-changes.js';

describe('metadata changes', () => {
  it('asks for a full look first, then names just the groups added or removed', () => {
    const changes = new MetadataChanges();
    const machine = watchedClusterMachine(changes);
    const state = machine.init();
    machine.command(state, { op: 'activateHost', id: 'h1', zone: 'a', address: 'h1:1', incarnation: 'i1', activation: 'a1' });
    assert.equal(changes.take(), null, 'nothing looked at yet, and a host changed');
    assert.deepEqual(changes.take(), new Set(), 'nothing since');
    machine.command(state, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 1, config: {} });
    machine.command(state, { op: 'addGroup', name: 'users', machine: 'counter', replicas: 1, config: {} });
    machine.command(state, { op: 'addGroup', name: 'users', machine: 'counter', replicas: 1, config: {} }); // refused: exists
    machine.command(state, { op: 'removeGroup', name: 'orders' });
    assert.deepEqual(changes.take(), new Set(['orders', 'users']));
    assert.equal(state.groups['users']?.id, 2, 'the wrapped machine applies as the cluster machine does');
  });

  it('asks for a full look after a host change or a restored snapshot', () => {
    const changes = new MetadataChanges();
    const machine = watchedClusterMachine(changes);
    const state = machine.init();
    changes.take();
    machine.command(state, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 1, config: {} }); // refused: no host
    machine.command(state, { op: 'activateHost', id: 'h1', zone: 'a', address: 'h1:1', incarnation: 'i1', activation: 'a1' });
    assert.equal(changes.take(), null);
    const restored = machine.restore(clusterMachine.snapshot(state));
    assert.deepEqual(restored, state);
    assert.equal(changes.take(), null);
  });

  it('stays bounded: past thousands of groups changed at once it asks for a full look instead', () => {
    const changes = new MetadataChanges();
    changes.take();
    for (let i = 0; i < 10_000; i++) changes.applied({ op: 'removeGroup', name: `g${i}` });
    assert.equal(changes.take(), null);
  });
});
