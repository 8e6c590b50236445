// Deletes the replicas here that placement no longer puts on this host, once their group's leader
// confirms they are no members any more (a removed group's replicas are the metadata follower's).
// A full scan finds them; each periodic pass then works through them.

import { isVoter } from '../raft/membership.js';
import { Role } from '../raft/types.js';
import { decodeAdminReply, encodeAdmin, type AdminRequest } from './admin.js';
import { CLUSTER_GROUP_ID, type ClusterState, type HostRecord } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { Housekeeping } from './housekeeping.js';
import type { LocalMember } from './local-members.js';
import type { Router } from './router.js';

export interface ReplicaGcParts {
  view: FleetView;
  router: Router;
  housekeeping: Housekeeping;
}

export class ReplicaGc {
  private readonly view: FleetView;
  /** Replicas here that placement no longer wants (group ids), from the last full scan. */
  private readonly unwanted = new Set<number>();

  constructor(private readonly parts: ReplicaGcParts) {
    this.view = parts.view;
  }

  /**
   * Which replicas placement no longer puts here: a full scan, on a metadata change and on every
   * rescan; collectGarbage() then works through them each pass.
   */
  findUnwanted(rescan: boolean): void {
    const meta = this.view.metadata;
    if (meta === null) return;
    const here = this.placesHere(meta);
    this.unwanted.clear();
    for (const member of this.view.members.all()) {
      if (!this.wanted(meta, member, here)) this.unwanted.add(member.groupId);
      // A cluster learner removed while this host's copy was behind never learns it: its metadata
      // would stay old for good. Ask the cluster leader now and then.
      else if (rescan && member.groupId === CLUSTER_GROUP_ID && !isVoter(member.replica.membership, member.member)) this.removeIfGone(member);
    }
  }

  /** One member, after its group was added or removed. */
  judge(meta: ClusterState, member: LocalMember): void {
    if (this.wanted(meta, member, this.placesHere(meta))) this.unwanted.delete(member.groupId);
    else this.unwanted.add(member.groupId);
  }

  /** Replicas placement no longer puts here are deleted once their group's leader confirms they left. */
  collectGarbage(): void {
    for (const groupId of this.unwanted) {
      const member = this.view.members.get(groupId);
      if (member === undefined) this.unwanted.delete(groupId);
      else this.removeIfGone(member);
    }
  }

  /** The fleet has this host active, and it is not draining: placement may put replicas here. */
  private placesHere(meta: ClusterState): boolean {
    const me: HostRecord | undefined = meta.hosts[this.view.hostId];
    return me !== undefined && me.state === 'active' && this.view.state !== 'deactivating';
  }

  /** Placement keeps this replica here (a removed group's replica is for the metadata follower, not for this). */
  private wanted(meta: ClusterState, member: LocalMember, here: boolean): boolean {
    if (!here || member.groupId === CLUSTER_GROUP_ID) return here;
    const record = meta.groups[member.group];
    return record === undefined || record.id !== member.groupId || this.view.placementFor(record.name, record.replicas).includes(this.view.hostId);
  }

  private removeIfGone(member: LocalMember): void {
    if (member.replica.role === Role.Leader) return; // a leader hands over first
    const members = this.view.members;
    this.parts.housekeeping.run(`gc/${member.groupId}`, async () => {
      const request: AdminRequest = { op: 'memberStatus', groupId: member.groupId, member: member.member };
      const bytes = await this.parts.router.call(member.group, 'admin', encodeAdmin(request), { timeoutMs: 1000 });
      if (!decodeAdminReply(bytes, 'memberStatus').member && members.get(member.groupId) === member) {
        await members.delete(member.groupId);
      }
    });
  }
}
