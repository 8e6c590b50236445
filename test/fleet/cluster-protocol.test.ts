// The cluster group's messages checked as they cross a process boundary: a malformed command or
// query is refused BAD_ARGUMENT by the machine (changing nothing), a malformed reply is
// TRANSPORT_PROTOCOL, a snapshot that is no cluster state is STORAGE_CORRUPT.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { clusterMachine, type ClusterState } from '../../src/fleet/cluster-machine.js';
import { decodeClusterReply, decodeClusterState } from '../../src/fleet/cluster-protocol.js';

const encoder = new TextEncoder();
const bytes = (value: unknown) => encoder.encode(JSON.stringify(value));

function fleet(): ClusterState {
  const s = clusterMachine.init();
  clusterMachine.command(s, { op: 'activateHost', id: 'h1', zone: 'a', address: 'h1:1', incarnation: 'i1', activation: 'a1' });
  clusterMachine.command(s, { op: 'addGroup', name: 'orders', machine: 'counter', replicas: 1, config: { snapshotEvery: 100 } });
  return s;
}

describe('cluster protocol', () => {
  it('refuses a malformed command BAD_ARGUMENT, naming the field, and changes nothing but the version', () => {
    const malformed: Array<[unknown, RegExp]> = [
      ['addGroup', /a cluster command: it is the string "addGroup", not an object/],
      [{ op: 'rename' }, /op is the string "rename", not one of activateHost, setHostState, addGroup, removeGroup/],
      [{ op: 'addGroup', name: 'g', machine: 'counter', config: {} }, /replicas is missing, not an integer/],
      [{ op: 'addGroup', name: 'g', machine: 'counter', replicas: 3, config: { snapshotEvery: '5' } }, /config\.snapshotEvery is the string "5", not a number/],
      [{ op: 'setHostState', id: 'h1', state: 'asleep', incarnation: 'i1' }, /state is the string "asleep", not one of active, deactivating, inactive, failed/],
      [{ op: 'activateHost', id: 'h2', zone: 'a', address: 7, incarnation: 'i2' }, /address is 7, not a string/],
      [{ op: 'removeGroup' }, /name is missing, not a string/],
    ];
    for (const [cmd, message] of malformed) {
      const s = fleet();
      const before = structuredClone(s);
      const { reply } = clusterMachine.command(s, cmd as never);
      assert.ok(!reply.ok && reply.code === 'BAD_ARGUMENT' && message.test(reply.message), JSON.stringify(reply));
      assert.deepEqual(s, { ...before, version: before.version + 1 });
    }
  });

  it('refuses a malformed query BAD_ARGUMENT', () => {
    const reply = clusterMachine.query(fleet(), { op: 'group' } as never);
    assert.ok(!reply.ok && reply.code === 'BAD_ARGUMENT' && /a cluster query: name is missing, not a string/.test(reply.message));
    assert.ok(clusterMachine.query(fleet(), { op: 'group', name: 'orders' }).ok);
  });

  it('takes every reply the machine gives, and refuses a malformed one TRANSPORT_PROTOCOL', () => {
    const s = fleet();
    for (const reply of [clusterMachine.query(s, { op: 'state' }), clusterMachine.query(s, { op: 'group', name: 'orders' }), clusterMachine.query(s, { op: 'group', name: 'none' })]) {
      assert.deepEqual(decodeClusterReply(bytes(reply)), reply);
    }
    const malformed: Array<[unknown, RegExp]> = [
      [{}, /a cluster reply: ok is missing, not true or false/],
      [{ ok: false, message: 'x' }, /code is missing, not a string/],
      [{ ok: true, group: { ...s.groups.orders, founders: ['h1~1', 2] } }, /group\.founders\[1\] is 2, not a string/],
      [{ ok: true, state: { ...s, hosts: { h1: { ...s.hosts.h1, state: 'gone' } } } }, /state\.hosts\.h1\.state is the string "gone"/],
    ];
    for (const [reply, message] of malformed) {
      assert.throws(() => decodeClusterReply(bytes(reply)), (err) => isFlotillaError(err, 'TRANSPORT_PROTOCOL') && message.test(err.message));
    }
    assert.throws(() => decodeClusterReply(encoder.encode('{')), (err) => isFlotillaError(err, 'TRANSPORT_PROTOCOL'));
  });

  it("restores a snapshot as it was written, a newer version's fields kept, and refuses one that is no cluster state STORAGE_CORRUPT", () => {
    const s = { ...fleet(), newerField: [1] };
    assert.deepEqual(decodeClusterState(bytes(s)), s);
    assert.deepEqual(clusterMachine.restore(clusterMachine.snapshot(s)), s);
    const { nextGroupId: _, ...noNext } = s;
    assert.throws(() => clusterMachine.restore(bytes(noNext)), (err) => isFlotillaError(err, 'STORAGE_CORRUPT') && /snapshot: nextGroupId is missing, not an integer/.test(err.message));
    assert.throws(() => clusterMachine.restore(bytes({ ...s, groups: { orders: { ...s.groups.orders, id: '1' } } })), (err) => isFlotillaError(err, 'STORAGE_CORRUPT') && /groups\.orders\.id/.test(err.message));
  });
});
