// Deletes the replicas here that placement no longer puts on this host, once their group's leader
// confirms they are no members any more (a removed group's replicas are the metadata follower's).
// A full scan finds them; each periodic pass then works through them. A replica that still counts
// itself a member and knows a leader is asked about only every ASK_EVERY_PASSES passes: a draining
// host holds hundreds of such replicas, and asking for each at every pass (about 4,000 calls a
// second at 1,000 members) loaded the very leaders that were moving them. A removed member is
// asked about at the next pass once it shows it: its log's membership leaves it out, or it lost
// its leader (a leader stops sending to a member as soon as it appends the member's removal, so
// the member campaigns, and knows no leader, within an election timeout).

import { isMember, isVoter } from '../raft/membership.js';
import { Role } from '../raft/types.js';
import { decodeAdminReply, encodeAdmin, type AdminRequest } from './admin.js';
import { CLUSTER_GROUP_ID, type ClusterState, type HostRecord } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { Housekeeping } from './housekeeping.js';
import type { LocalMember } from './local-members.js';
import type { Router } from './router.js';

/** A replica with no sign of having left is asked about once in this many passes. */
const ASK_EVERY_PASSES = 8;

export interface ReplicaGcParts {
  view: FleetView;
  router: Router;
  housekeeping: Housekeeping;
}

export class ReplicaGc {
  private readonly view: FleetView;
  /** Replicas here that placement no longer wants (group ids), from the last full scan. */
  private readonly unwanted = new Set<number>();
  /** The pass at which each unwanted replica's leader was last asked (group ids). */
  private readonly askedAt = new Map<number, number>();
  private passes = 0;

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
    for (const groupId of this.askedAt.keys()) if (!this.unwanted.has(groupId)) this.askedAt.delete(groupId);
  }

  /** One member, after its group was added or removed. */
  judge(meta: ClusterState, member: LocalMember): void {
    if (this.wanted(meta, member, this.placesHere(meta))) {
      this.unwanted.delete(member.groupId);
      this.askedAt.delete(member.groupId);
    } else this.unwanted.add(member.groupId);
  }

  /** Replicas placement no longer puts here are deleted once their group's leader confirms they left. */
  collectGarbage(): void {
    this.passes++;
    for (const groupId of this.unwanted) {
      const member = this.view.members.get(groupId);
      if (member === undefined) {
        this.unwanted.delete(groupId);
        this.askedAt.delete(groupId);
      } else if (this.worthAsking(member)) {
        this.askedAt.set(groupId, this.passes);
        this.removeIfGone(member);
      }
    }
  }

  /** The replica may have left: it does not count itself a member, knows no leader, or was not asked about for a while. */
  private worthAsking(member: LocalMember): boolean {
    const replica = member.replica;
    if (!isMember(replica.membership, member.member) || replica.leader === '') return true;
    return this.passes - (this.askedAt.get(member.groupId) ?? -Infinity) >= ASK_EVERY_PASSES;
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
