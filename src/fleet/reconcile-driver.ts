// Moves the groups this host leads toward their placement, one step at a time (reconciler.ts
// decides the step): add a learner on a placed host (after that host prepared an empty replica),
// promote it, remove a member that is not placed, hand the leadership to the preferred leader.
// It runs on every metadata change, on the periodic passes, and when a group quiesces.

import type { Logger } from 'pino';
import type { Scheduler } from '../common/scheduler.js';
import type { HostId } from '../transport/items.js';
import { decodeAdminReply, encodeAdmin, type AdminRequest } from './admin.js';
import { CLUSTER_GROUP, CLUSTER_GROUP_ID, type ClusterState } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { Housekeeping } from './housekeeping.js';
import type { LocalMember } from './local-members.js';
import { hostOfMember, memberId } from './member-id.js';
import { nextStep, type ReconcileStep } from './reconciler.js';
import type { Router } from './router.js';

/** A learner silent this long is removed, so a fresh one can be added. */
const LEARNER_GIVE_UP_MS = 10_000;
/**
 * Replicas of data groups this host asks one host to prepare at once, at most (the cluster group's
 * is never held back); the other groups add their learner at a later pass. A drain put a learner
 * for each of 1,000 groups on one host within a second: its prepares (a synced write each) queued
 * past their 2 s deadline by the hundreds, and each retry cost its group those 2 s and the new host
 * another replica to write (bench/README.md, "Where a drain's seconds go"). Since the store writes
 * what queued behind a write together (kv-log-store.ts), a host's prepares share their syncs, and
 * 256 at a time drained faster than 64 (bench/README.md, full run on 3a465d9).
 */
export const MAX_PREPARES_PER_HOST = 256;

export interface ReconcileDriverParts {
  view: FleetView;
  router: Router;
  scheduler: Scheduler;
  housekeeping: Housekeeping;
  logger: Logger;
}

export class ReconcileDriver {
  private readonly view: FleetView;
  /**
   * Since when each learner of a group this host leads has not answered (see stuckLearners), and
   * in which of its terms: a leader's progress starts inactive in each term, so a time noted in an
   * earlier term (this host led the group, lost it, and leads again) says nothing of the learner.
   */
  private readonly learnerSilentSince = new Map<string, { since: number; term: number }>();
  /** Per (group, host): the tombstone a prepare was refused with; the next id goes above it. */
  private readonly prepareFloor = new Map<string, number>();
  /** Prepares this host has in flight, per host asked. */
  private readonly preparing = new Map<HostId, number>();

  constructor(private readonly parts: ReconcileDriverParts) {
    this.view = parts.view;
  }

  /** Moves every group this host leads (quiesced ones too, unless told not to) one step toward its placement. */
  reconcile(which: { quiesced: boolean }): void {
    const view = this.view;
    const meta = view.metadata;
    if (meta === null || view.stopped) return;
    const leaving = this.leaving(meta);
    for (const member of which.quiesced ? view.members.all() : view.awakeMembers()) {
      if (!which.quiesced && member.replica.isQuiesced) continue;
      this.reconcileMember(meta, member, leaving);
    }
  }

  /** One member's group, after it was added or removed. */
  reconcileOne(meta: ClusterState, member: LocalMember): void {
    this.reconcileMember(meta, member, this.leaving(meta));
  }

  /**
   * A group just quiesced: the passes between metadata changes skip it from now on, so a leader
   * that quiesced in the middle of a move (a learner caught up, not yet promoted) is woken again
   * at once; it would otherwise wait for the next full scan, seconds later, at every step.
   */
  quiesced(groupId: number): void {
    const view = this.view;
    const member = view.members.get(groupId);
    const meta = view.metadata;
    if (member === undefined || meta === null || view.stopped) return;
    this.reconcileMember(meta, member, this.leaving(meta));
  }

  /** Members leave this host: it drains, or the fleet does not have it active. */
  private leaving(meta: ClusterState): boolean {
    return this.view.state === 'deactivating' || meta.hosts[this.view.hostId]?.state !== 'active';
  }

  /** If this host leads the group and it is not where placement wants it, one step toward that. */
  private reconcileMember(meta: ClusterState, member: LocalMember, leaving: boolean): void {
    const view = this.view;
    // One step at a time: none while a membership change commits or the leadership is being handed over.
    const replica = member.replica;
    if (view.stopped || !replica.leadsCommittedTerm || replica.configChangePending || replica.transferring) return;
    let voterHosts: string[];
    let learnerHosts: string[] = [];
    if (member.groupId === CLUSTER_GROUP_ID) {
      voterHosts = view.placementFor(CLUSTER_GROUP, view.clusterReplicas);
      learnerHosts = view.activeHostIds();
    } else {
      const record = meta.groups[member.group];
      if (record === undefined || record.id !== member.groupId) return;
      voterHosts = view.placementFor(record.name, record.replicas);
    }
    if (!leaving && inPlace(member, voterHosts, learnerHosts)) return;
    if (member.replica.isQuiesced) {
      // A quiesced leader's view of who answers is frozen: wake it, and act once it has heard back.
      member.replica.endQuiescence();
      return;
    }
    const status = member.replica.status();
    const stuck = this.stuckLearners(member, status.membership.learners, status.progress);
    const step = nextStep({
      stuck,
      self: member.member,
      membership: status.membership,
      progress: new Map(status.progress.map((p) => [p.id, { match: p.match, active: p.active }])),
      lastIndex: status.lastIndex,
      committed: status.commit,
      voterHosts,
      learnerHosts,
      leaving,
    });
    if (step === null) return;
    // A host joining gets its cluster replica before any group's: with hundreds of groups to move
    // onto it, their prepares would otherwise queue ahead of the cluster's on the new host (one
    // synced write each), and its activate, which waits for the cluster replica, time out.
    if (step.kind === 'addLearner' && member.groupId !== CLUSTER_GROUP_ID && !this.holdsClusterReplica(step.host)) return;
    if (step.kind === 'addLearner' && member.groupId !== CLUSTER_GROUP_ID && (this.preparing.get(step.host) ?? 0) >= MAX_PREPARES_PER_HOST) return;
    this.takeStep(member, step);
  }

  /** Whether `host` has a member of the cluster group, as this host's cluster replica knows (true when this host has none to ask). */
  private holdsClusterReplica(host: HostId): boolean {
    const cluster = this.view.members.get(CLUSTER_GROUP_ID);
    if (cluster === undefined) return true;
    const { voters, learners } = cluster.replica.membership;
    return [...voters, ...learners].some((m) => hostOfMember(m) === host);
  }

  /**
   * Learners that have not answered for LEARNER_GIVE_UP_MS: their replica may be gone (deleted by
   * a host that thought it was not needed, or lost with a data directory). Removing them lets the
   * reconciler add a fresh one.
   */
  private stuckLearners(member: LocalMember, learners: readonly string[], progress: ReadonlyArray<{ id: string; active: boolean; match: number }>): Set<string> {
    const now = this.parts.scheduler.now();
    const term = member.replica.term;
    const stuck = new Set<string>();
    for (const id of learners) {
      const key = `${member.groupId}/${id}`;
      const p = progress.find((x) => x.id === id);
      if (p !== undefined && p.active) {
        this.learnerSilentSince.delete(key);
        continue;
      }
      const noted = this.learnerSilentSince.get(key);
      const since = noted !== undefined && noted.term === term ? noted.since : now;
      this.learnerSilentSince.set(key, { since, term });
      if (now - since >= LEARNER_GIVE_UP_MS) stuck.add(id);
    }
    return stuck;
  }

  private takeStep(member: LocalMember, step: ReconcileStep): void {
    const replica = member.replica;
    try {
      switch (step.kind) {
        case 'addLearner':
          this.parts.housekeeping.run(`prepare/${member.groupId}/${step.host}`, () => this.counted(step.host, () => this.addLearner(member, step.host)));
          return;
        case 'promote':
          replica.changeMembership({ type: 'promote', node: step.member });
          this.moved(member, 'promoting a learner to voter', step.member);
          return;
        case 'remove':
          replica.changeMembership({ type: 'remove', node: step.member });
          this.moved(member, 'removing a member', step.member);
          return;
        case 'transfer':
          replica.transferLeadership(step.to);
          this.parts.logger.debug({ group: member.group, to: step.to, term: replica.term }, 'handing the leadership to the preferred leader');
          return;
      }
    } catch (err) {
      // BUSY (a change still committing, a learner not caught up) or a lost leadership: next pass.
      this.parts.logger.debug({ err, group: member.group, step }, 'reconcile step refused');
    }
  }

  /** Runs a prepare on `host`, counted in `preparing` while it runs. */
  private async counted(host: HostId, prepare: () => Promise<void>): Promise<void> {
    this.preparing.set(host, (this.preparing.get(host) ?? 0) + 1);
    try {
      await prepare();
    } finally {
      const left = this.preparing.get(host)! - 1;
      if (left === 0) this.preparing.delete(host);
      else this.preparing.set(host, left);
    }
  }

  private async addLearner(member: LocalMember, host: string): Promise<void> {
    const key = `${member.groupId}/${host}`;
    const replica = member.replica;
    const serial = Math.max(replica.lastIndex + 1, (this.prepareFloor.get(key) ?? 0) + 1);
    const id = memberId(host, serial);
    const request: AdminRequest = { op: 'prepare', groupId: member.groupId, group: member.group, machine: member.machine, member: id, term: replica.term };
    const bytes = await this.parts.router.call(member.group, 'admin', encodeAdmin(request), { timeoutMs: 2000, via: host, only: true });
    const reply = decodeAdminReply(bytes, 'prepare');
    if (!reply.ok) {
      this.prepareFloor.set(key, reply.tombstone);
      return;
    }
    // Still the leader, not handing over, and still no member on that host?
    if (this.view.members.get(member.groupId) !== member || !replica.leadsCommittedTerm || replica.transferring) return;
    const membership = replica.membership;
    if ([...membership.voters, ...membership.learners].some((m) => hostOfMember(m) === host)) return;
    replica.changeMembership({ type: 'addLearner', node: id });
    this.moved(member, 'adding a learner', id);
  }

  /** A membership change this leader proposed (it commits, or a later pass takes the step again). */
  private moved(member: LocalMember, what: string, target: string): void {
    this.parts.logger.info({ group: member.group, member: target, memberHost: hostOfMember(target), term: member.replica.term }, what);
  }
}

/**
 * The group has exactly its placed voters, a learner on each of `learnerHosts` that is no voter
 * host (the cluster group's), and this (preferred) host leads: nothing to do.
 */
function inPlace(member: LocalMember, voterHosts: readonly string[], learnerHosts: readonly string[]): boolean {
  const { voters, learners } = member.replica.membership;
  const wantedLearners = learnerHosts.filter((h) => !voterHosts.includes(h));
  if (learners.length !== wantedLearners.length || voters.length !== voterHosts.length || hostOfMember(member.member) !== voterHosts[0]) return false;
  return voters.every((v) => voterHosts.includes(hostOfMember(v))) && learners.every((l) => wantedLearners.includes(hostOfMember(l)));
}
