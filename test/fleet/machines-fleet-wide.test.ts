// Machines known fleet-wide (issue 17, point 4), the pure parts: each host's record carries the
// machines it registered at activation (replicated, carried by the snapshot); placement puts a
// group only on hosts that run its machine; a group whose machine runs on too few active hosts is
// refused NO_SUCH_MACHINE naming what runs where, by the host before it proposes and by the
// cluster machine when it applies. A record from an older host (no machines) runs anything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlotillaError } from '../../src/common/errors.js';
import { activeHosts, clusterMachine, type ClusterCommand, type ClusterState } from '../../src/fleet/cluster-machine.js';
import { checkMachineRuns, machineShortfall, place, placementChanges, type HostInfo } from '../../src/fleet/placement.js';

function run(state: ClusterState, cmd: ClusterCommand) {
  return clusterMachine.command(state, cmd).reply;
}

function activate(s: ClusterState, id: string, zone: string, machines: string[] | undefined, activation = 'a1') {
  const cmd: ClusterCommand = { op: 'activateHost', id, zone, address: `${id}:1`, incarnation: `inc-${id}`, activation };
  return run(s, machines === undefined ? cmd : { ...cmd, machines });
}

/** h1 (zone a) runs kv, counter and new; h2 (b) and h3 (a) run kv and counter. */
function upgrading(): ClusterState {
  const s = clusterMachine.init();
  activate(s, 'h1', 'a', ['new', 'kv', 'counter']);
  activate(s, 'h2', 'b', ['kv', 'counter']);
  activate(s, 'h3', 'a', ['counter', 'kv']);
  return s;
}

const roundTrip = (s: ClusterState): ClusterState => clusterMachine.restore(clusterMachine.snapshot(s)) as ClusterState;

describe('machines known fleet-wide', () => {
  it('a host registers its machines at activation, sorted, and a restart with another set replaces them', () => {
    const s = upgrading();
    assert.deepEqual(s.hosts.h1!.machines, ['counter', 'kv', 'new']);
    assert.deepEqual(activeHosts(s).find((h) => h.id === 'h3')?.machines, ['counter', 'kv']);
    // The host restarted with the new module: a new activation of the same data directory.
    activate(s, 'h3', 'a', ['kv', 'new', 'counter'], 'a2');
    assert.deepEqual(s.hosts.h3!.machines, ['counter', 'kv', 'new']);
    // A late attempt of an activation already applied changes nothing.
    activate(s, 'h3', 'a', ['kv'], 'a2');
    assert.deepEqual(s.hosts.h3!.machines, ['counter', 'kv', 'new']);
    // The snapshot carries them, and a restored copy places alike.
    const copy = roundTrip(s);
    assert.deepEqual(copy.hosts.h3!.machines, ['counter', 'kv', 'new']);
    assert.deepEqual(activeHosts(copy), activeHosts(s));
  });

  it('a record without machines (an older host, an older snapshot) is unknown: it runs anything', () => {
    const s = clusterMachine.init();
    activate(s, 'h1', 'a', undefined);
    activate(s, 'h2', 'b', undefined);
    const old = roundTrip(s);
    assert.equal(old.hosts.h1!.machines, undefined);
    assert.equal(machineShortfall('anything', 2, activeHosts(old)), null);
    const reply = run(old, { op: 'addGroup', name: 'g', machine: 'anything', replicas: 2, config: {} });
    assert.ok(reply.ok && reply.group);
    assert.deepEqual([...reply.group.founders].sort(), ['h1~1', 'h2~1']);
    // A malformed list from a peer is refused, not stored.
    const bad = run(old, { op: 'activateHost', id: 'h3', zone: 'a', address: 'h3:1', incarnation: 'inc-h3', activation: 'x', machines: [7] } as unknown as ClusterCommand);
    assert.ok(!bad.ok && bad.code === 'BAD_ARGUMENT', JSON.stringify(bad));
    assert.equal(old.hosts.h3, undefined);
  });

  it('places a group only on the hosts that run its machine, keeping the scores of the others', () => {
    const hosts: HostInfo[] = [
      { id: 'h1', zone: 'a', machines: ['kv', 'new'] },
      { id: 'h2', zone: 'b', machines: ['kv'] },
      { id: 'h3', zone: 'a', machines: ['kv', 'new'] },
      { id: 'h4', zone: 'b' }, // unknown: an older host
    ];
    for (let i = 0; i < 50; i++) {
      const name = `g${i}`;
      const placed = place(name, 3, hosts, 'new');
      assert.ok(placed.every((h) => h !== 'h2'), `${name} avoids h2: ${placed.join(',')}`);
      assert.deepEqual(placed, place(name, 3, hosts.filter((h) => h.id !== 'h2')));
      assert.deepEqual(place(name, 3, hosts, 'kv'), place(name, 3, hosts), 'a machine every host runs changes nothing');
    }
    assert.deepEqual(place('x', 3, hosts, 'missing'), ['h4'], 'only the host of unknown machines may run a missing one');
    // A host gaining the machine moves only groups onto it.
    const groups = Array.from({ length: 20 }, (_, i) => ({ name: `m${i}`, replicas: 2, machine: 'new' }));
    const after = { groups, hosts: hosts.map((h) => (h.id === 'h2' ? { ...h, machines: ['kv', 'new'] } : h)) };
    const changes = placementChanges({ groups, hosts }, after);
    assert.ok(changes.length > 0 && changes.length < groups.length, `some groups move to h2, not all: ${changes.length}`);
    for (const change of changes) assert.deepEqual(change.added, ['h2']);
  });

  it('the cluster machine founds a group only on hosts that run its machine, and refuses one too few run', () => {
    const s = upgrading();
    const kv = run(s, { op: 'addGroup', name: 'users', machine: 'kv', replicas: 3, config: {} });
    assert.ok(kv.ok && kv.group?.founders.length === 3);
    const refused = run(s, { op: 'addGroup', name: 'x', machine: 'new', replicas: 3, config: {} });
    assert.ok(!refused.ok && refused.code === 'NO_SUCH_MACHINE', JSON.stringify(refused));
    assert.match(refused.message, /machine "new" is registered on 1 host \(h1\); group needs 3/);
    assert.equal(s.groups.x, undefined, 'nothing is left in the metadata');
    const one = run(s, { op: 'addGroup', name: 'solo', machine: 'new', replicas: 1, config: {} });
    assert.ok(one.ok && one.group);
    assert.deepEqual(one.group.founders, ['h1~1']);
  });

  it('the host refuses before proposing with a message and details naming what runs where', () => {
    const s = upgrading();
    const err = ((): FlotillaError => {
      try {
        checkMachineRuns(activeHosts(s), 'new', 3, true);
      } catch (e) {
        if (e instanceof FlotillaError) return e;
      }
      assert.fail('expected NO_SUCH_MACHINE');
    })();
    assert.equal(err.code, 'NO_SUCH_MACHINE');
    assert.equal(err.message, 'machine "new" is registered on 1 host (h1); group needs 3. Machines: counter on h1,h2,h3; kv on h1,h2,h3; new on h1');
    assert.deepEqual(err.details, { machine: 'new', needed: 3, hosts: ['h1'], machines: { counter: ['h1', 'h2', 'h3'], kv: ['h1', 'h2', 'h3'], new: ['h1'] }, unknown: [] });
    assert.throws(() => checkMachineRuns(activeHosts(s), 'nope', 1, false), /registered on no active host; group needs 1/);
    checkMachineRuns(activeHosts(s), 'new', 1, false); // the asked host need not run it
    checkMachineRuns(activeHosts(s), 'kv', 5, true); // more replicas than hosts is not the machine's shortage
    // Only active hosts count: h2 draining leaves kv on 2 of the 2 active hosts.
    run(s, { op: 'setHostState', id: 'h2', state: 'deactivating', incarnation: 'inc-h2' });
    checkMachineRuns(activeHosts(s), 'kv', 3, true);
    // With an older host in the fleet, a name nobody registers is still a typo.
    activate(s, 'h4', 'b', undefined);
    assert.throws(() => checkMachineRuns(activeHosts(s), 'nope', 1, false), /registered on no active host/);
    assert.match(machineShortfall('new', 3, activeHosts(s))?.message ?? '', /Machines: counter on h1,h3; kv on h1,h3; new on h1; unknown on h4/);
  });
});
