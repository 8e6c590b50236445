// Watches the fleet's hosts and this host's own groups for trouble. Every host pings every other;
// a peer silent for SUSPECT_MS is suspected (its quiesced followers here campaign, staggered by
// rank), a peer back up has quiesced leaders heartbeat it, and on the cluster leader a host silent
// for the failure timeout is marked failed (active again once heard). It also tracks the groups
// here that have no leader, and the leaders here that commit nothing (status()).

import type { Logger } from 'pino';
import type { Scheduler } from '../common/scheduler.js';
import { StallWatch, type StalledGroup } from '../loop/stall-watch.js';
import { Role } from '../raft/types.js';
import type { HostId } from '../transport/items.js';
import type { Transport } from '../transport/transport.js';
import type { ClusterCalls } from './cluster-calls.js';
import { CLUSTER_GROUP_ID, type ClusterCommand, type HostState } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { Housekeeping } from './housekeeping.js';
import type { LocalMember } from './local-members.js';
import { hostOfMember } from './member-id.js';

/** Every host pings every other this often; one silent for SUSPECT_MS is suspected down. */
export const PING_MS = 200;
export const SUSPECT_MS = 1000;
/** Ticks between the campaigns of a lost leader's followers, in their rank order (see campaignRank). */
const CAMPAIGN_STAGGER_TICKS = 4;

export interface FailureDetectorParts {
  view: FleetView;
  transport: Pick<Transport, 'send' | 'flush'>;
  scheduler: Scheduler;
  housekeeping: Housekeeping;
  cluster: ClusterCalls;
  logger: Logger;
  /** A host silent this long is marked failed. */
  hostFailureTimeoutMs: number;
  /** How long a leader commits nothing with entries waiting before it counts as stalled. */
  stallMs: number;
  /** Deadline of the cluster commands that mark hosts. */
  timeoutMs: number;
}

export class FailureDetector {
  private readonly view: FleetView;
  /** When each local replica last saw no leader (for status().leaderless). */
  private readonly leaderlessSince = new Map<number, number>();
  /** Leaders here whose commit index stands still with entries waiting (for status().notReplicating). */
  private readonly stallWatch: StallWatch;

  constructor(private readonly parts: FailureDetectorParts) {
    this.view = parts.view;
    this.stallWatch = new StallWatch(parts.stallMs);
  }

  /** Suspects the peers silent too long, and pings every peer. */
  ping(): void {
    const meta = this.view.metadata;
    if (meta !== null) {
      for (const h of Object.values(meta.hosts)) if (h.id !== this.view.hostId && this.view.liveness.silentFor(h.id) > SUSPECT_MS) this.suspect(h.id);
    }
    this.sendPings();
  }

  /** Quiesced followers whose leader is on `host` stop waiting for it: they campaign if it stays silent. */
  suspect(host: HostId): void {
    for (const m of this.view.members.all()) {
      const replica = m.replica;
      if (replica.isQuiesced && replica.role !== Role.Leader && replica.leader !== '' && hostOfMember(replica.leader) === host) {
        replica.endQuiescence(1 + this.campaignRank(m, host) * CAMPAIGN_STAGGER_TICKS);
      }
    }
  }

  /** Quiesced leaders with a member on `host` heartbeat it, so a restarted member finds its leader at once. */
  peerUp(host: HostId): void {
    for (const m of this.view.members.all()) {
      const replica = m.replica;
      if (!replica.isQuiesced || replica.role !== Role.Leader) continue;
      const { voters, learners } = replica.membership;
      if ([...voters, ...learners].some((id) => hostOfMember(id) === host)) replica.endQuiescence();
    }
  }

  /** On the cluster leader: hosts silent too long are marked failed, and back to active when heard again. */
  markFailures(): void {
    const view = this.view;
    const cluster = view.members.get(CLUSTER_GROUP_ID);
    const meta = view.metadata;
    if (cluster === undefined || meta === null || !cluster.replica.leadsCommittedTerm) return;
    for (const h of Object.values(meta.hosts)) {
      if (h.id === view.hostId) continue;
      const silent = view.liveness.silentFor(h.id);
      let next: HostState | null = null;
      if ((h.state === 'active' || h.state === 'deactivating') && silent > this.parts.hostFailureTimeoutMs) next = 'failed';
      if (h.state === 'failed' && silent < SUSPECT_MS) next = h.resumeState ?? 'active';
      if (next === null) continue;
      const command: ClusterCommand = { op: 'setHostState', id: h.id, state: next, incarnation: h.incarnation, from: h.state };
      // Logged at info once committed, by the request server (fleet-events.ts); each pass until then retries.
      this.parts.logger.debug({ peer: h.id, state: next, silentMs: Math.round(silent) }, 'marking a host');
      this.parts.housekeeping.run(`mark/${h.id}`, () => this.parts.cluster.command(command, this.parts.timeoutMs));
    }
  }

  /** Notes which awake replicas here have no leader, and since when. */
  trackLeaderless(): void {
    const now = this.parts.scheduler.now();
    const members = this.view.members;
    // A quiesced replica always knows its leader: only awake ones can be leaderless.
    for (const m of this.view.awakeMembers()) {
      if (m.replica.leader === '' && !this.leaderlessSince.has(m.groupId)) this.leaderlessSince.set(m.groupId, now);
    }
    for (const groupId of this.leaderlessSince.keys()) {
      if (members.get(groupId)?.replica.leader === '') continue;
      this.leaderlessSince.delete(groupId);
    }
  }

  /** Leaders here that commit nothing with entries waiting: a warn log once per streak, status().notReplicating. */
  trackNotReplicating(): void {
    const now = this.parts.scheduler.now();
    const awake = new Set<number>();
    // A quiesced leader has everything committed: only awake ones can stall.
    for (const m of this.view.awakeMembers()) {
      awake.add(m.groupId);
      const replica = m.replica;
      const view = { leading: replica.role === Role.Leader, commit: replica.committed, lastIndex: replica.lastIndex };
      if (this.stallWatch.observe(m.groupId, view, now)) {
        this.parts.logger.warn({ group: m.group, commit: view.commit, lastIndex: view.lastIndex }, 'group leader commits nothing: its followers answer heartbeats but none of its appends gets through');
      }
    }
    this.stallWatch.retain(awake);
  }

  /** The groups here leaderless for at least `forMs`, with since when. */
  leaderless(now: number, forMs: number): Array<{ member: LocalMember; since: number }> {
    const out: Array<{ member: LocalMember; since: number }> = [];
    for (const [groupId, since] of this.leaderlessSince) {
      const member = this.view.members.get(groupId);
      if (member !== undefined && now - since >= forMs) out.push({ member, since });
    }
    return out;
  }

  /** The leaders here that commit nothing (StallWatch.stalled). */
  stalled(now: number): StalledGroup[] {
    return this.stallWatch.stalled(now);
  }

  private sendPings(): void {
    const meta = this.view.metadata;
    if (meta === null) return;
    const transport = this.parts.transport;
    for (const h of Object.values(meta.hosts)) {
      if (h.id !== this.view.hostId && h.state !== 'inactive') transport.send(h.id, { kind: 'ping', sentAt: Math.floor(this.parts.scheduler.now()), liveness: 'up' });
    }
    transport.flush();
  }

  /**
   * Where this host stands among the group's other voters to take over from `lost`: by the group's
   * placement, which every survivor computes alike, so the first campaigns at once and the others
   * only if it has not won meanwhile (the first is also the preferred leader: nothing moves later).
   */
  private campaignRank(member: LocalMember, lost: HostId): number {
    const placed = this.view.placementOf(member);
    const position = (h: string): number => {
      const i = placed.indexOf(h);
      return i === -1 ? placed.length : i;
    };
    const survivors = member.replica.membership.voters.map(hostOfMember).filter((h) => h !== lost);
    survivors.sort((a, b) => position(a) - position(b) || (a < b ? -1 : a > b ? 1 : 0));
    return Math.max(0, survivors.indexOf(this.view.hostId));
  }
}
