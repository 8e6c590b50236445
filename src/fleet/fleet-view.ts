// What this host knows of the fleet, shared by the fleet parts (metadata follower, request server,
// reconcile driver, failure detector, replica gc): the last metadata it saw, the active hosts and
// the placements computed over them, its peers, what it heard from them, its local members and
// its own local state. The metadata follower writes what the host saw; the local state is
// written by the host facade (deactivate, stop), joining (active) and the follower (a drain the
// metadata shows); every other part only reads.

import { CLUSTER_GROUP, CLUSTER_GROUP_ID, activeHosts, type ClusterState } from './cluster-machine.js';
import type { Liveness } from './liveness.js';
import type { LocalMember, LocalMembers } from './local-members.js';
import { place, type HostInfo } from './placement.js';
import type { HostId } from '../transport/items.js';

/** The host's own view of its life: joining the fleet (activate), draining (deactivate), stopped. */
export type LocalState = 'inactive' | 'active' | 'deactivating' | 'stopped';

export interface FleetViewParts {
  hostId: HostId;
  /** This data directory's incarnation (a new directory, a new one). */
  incarnation: string;
  /** Voters of the cluster group. */
  clusterReplicas: number;
  members: LocalMembers;
  liveness: Liveness;
  /** The groups whose replicas here are not quiesced (the host loop keeps them apart). */
  awakeGroupIds: () => Iterable<number>;
}

export class FleetView {
  readonly hostId: HostId;
  readonly incarnation: string;
  readonly clusterReplicas: number;
  readonly members: LocalMembers;
  /** When each peer was last heard from. */
  readonly liveness: Liveness;
  state: LocalState = 'inactive';
  /** The last metadata this host saw (kept after its cluster replica is gone). */
  metadata: ClusterState | null = null;
  /** The fleet's other hosts and their addresses. */
  knownPeers: ReadonlyMap<HostId, string> = new Map();
  /** Active hosts as of the last metadata scan, and placements computed over them. */
  private active: HostInfo[] = [];
  private activeKey = '';
  private readonly placements = new Map<string, { replicas: number; machine: string | undefined; hosts: string[] }>();
  private readonly awakeGroupIds: () => Iterable<number>;

  constructor(parts: FleetViewParts) {
    this.hostId = parts.hostId;
    this.incarnation = parts.incarnation;
    this.clusterReplicas = parts.clusterReplicas;
    this.members = parts.members;
    this.liveness = parts.liveness;
    this.awakeGroupIds = parts.awakeGroupIds;
  }

  get stopped(): boolean {
    return this.state === 'stopped';
  }

  /** The active hosts' ids, sorted. */
  activeHostIds(): string[] {
    return this.active.map((h) => h.id);
  }

  /** Takes the active hosts of `meta`; the placements are computed afresh when they changed. */
  updateActiveHosts(meta: ClusterState): void {
    const active = activeHosts(meta);
    const key = active.map((h) => `${h.id}@${h.zone}:${h.machines?.join('+') ?? '*'}`).join(',');
    if (key === this.activeKey) return;
    this.activeKey = key;
    this.active = active;
    this.placements.clear();
  }

  /**
   * Placement over the active hosts that run the group's machine (as the metadata names it),
   * cached until they change (the periodic passes ask often). A deactivating host never places
   * anything on itself, whatever its copy of the metadata says.
   */
  placementFor(name: string, replicas: number): string[] {
    const machine = name === CLUSTER_GROUP ? undefined : this.metadata?.groups[name]?.machine;
    const cached = this.placements.get(name);
    const fresh = cached !== undefined && cached.replicas === replicas && cached.machine === machine;
    const hosts = fresh ? cached.hosts : place(name, replicas, this.active, machine);
    if (!fresh) this.placements.set(name, { replicas, machine, hosts });
    if (this.state === 'deactivating' && hosts.includes(this.hostId)) return place(name, replicas, this.active.filter((h) => h.id !== this.hostId), machine);
    return hosts;
  }

  /** Where placement wants the replicas of a local member's group ([] for a group the metadata does not have). */
  placementOf(member: LocalMember): string[] {
    if (member.groupId === CLUSTER_GROUP_ID) return this.placementFor(CLUSTER_GROUP, this.clusterReplicas);
    const record = this.metadata?.groups[member.group];
    return record === undefined ? [] : this.placementFor(record.name, record.replicas);
  }

  /** The replica here that answers for `group` by name. */
  memberFor(group: string): LocalMember | undefined {
    if (group === CLUSTER_GROUP) return this.members.get(CLUSTER_GROUP_ID);
    const id = this.metadata?.groups[group]?.id;
    if (id !== undefined) return this.members.get(id);
    return this.members.named(group).at(-1);
  }

  /** The replicas here that are not quiesced. */
  *awakeMembers(): IterableIterator<LocalMember> {
    for (const groupId of this.awakeGroupIds()) {
      const member = this.members.get(groupId);
      if (member !== undefined) yield member;
    }
  }
}
