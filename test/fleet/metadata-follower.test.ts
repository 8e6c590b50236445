// The metadata follower takes the cluster replica's state into the host's view, never an older
// one than the view holds: a host whose cluster replica was replaced replays the metadata from
// its start (the demo's restarted host answered NO_SUCH_GROUP for a group it had known).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { CLUSTER_GROUP_ID, type ClusterState } from '../../src/fleet/cluster-machine.js';
import type { FleetView } from '../../src/fleet/fleet-view.js';
import { Housekeeping } from '../../src/fleet/housekeeping.js';
import { MetadataChanges } from '../../src/fleet/metadata-changes.js';
import { MetadataFollower, type MetadataFollowerParts } from '../../src/fleet/metadata-follower.js';
import { MemoryDisk, MemoryLogStore } from '../../src/storage/memory-store.js';

const host = (id: string) => ({ id, zone: 'z', address: `${id}:1`, state: 'active', incarnation: 1, registeredAt: 1 });
const group = { name: 'g', id: 7, replicas: 3, machine: 'kv', founders: ['h2~1'], createdAt: 2 };
/** The metadata after `version` commands: h1, then g, then h2 (version 3 on). */
function stateAt(version: number): ClusterState {
  return {
    version,
    hosts: version >= 3 ? { h1: host('h1'), h2: host('h2') } : { h1: host('h1') },
    groups: version >= 2 ? { g: group } : {},
    nextGroupId: version >= 2 ? 8 : 1,
  } as unknown as ClusterState;
}

describe('metadata follower', () => {
  it("keeps the view when a new cluster replica replays older states, and takes the replica's once it caught up", async () => {
    const replica = { appliedIndex: 1, state: stateAt(1) };
    const view = {
      hostId: 'h1',
      incarnation: 1,
      state: 'active',
      stopped: false,
      metadata: stateAt(5),
      knownPeers: new Map(),
      liveness: { heard: () => undefined },
      members: { get: (id: number) => (id === CLUSTER_GROUP_ID ? { groupId: CLUSTER_GROUP_ID, member: 'h1~9', replica } : undefined), all: () => [], named: () => [], tombstone: () => 0 },
      updateActiveHosts: () => undefined,
    } as unknown as FleetView;
    const store = new MemoryLogStore(new MemoryDisk('h1'));
    await store.open();
    const follower = new MetadataFollower({
      view,
      store,
      transport: { setPeers: () => undefined },
      scheduler: { soon: (run: () => void) => run() },
      housekeeping: new Housekeeping(() => false, pino({ level: 'silent' })),
      cluster: {},
      changes: new MetadataChanges(),
      hooks: { scanned: () => undefined, memberChanged: () => undefined, groupsChanged: () => undefined },
    } as unknown as MetadataFollowerParts);
    follower.onMetadata();
    assert.equal(view.metadata?.version, 5, 'an older state is not taken');
    assert.ok(view.metadata?.groups['g'] !== undefined && view.metadata.hosts['h2'] !== undefined, 'the group and the host stay known');
    replica.appliedIndex = 6;
    replica.state = stateAt(6);
    follower.onMetadata();
    assert.equal(view.metadata?.version, 6, 'a state as new as the view or newer is');
    await store.close();
  });
});
