// What a Host reports of itself: status() (its members, their roles and lag, and what is wrong
// with its replicas and groups) and replicaWarnings() (the same trouble as one line per thing),
// built from the fleet view and the failure detector.

import type { FailureDetector } from '../fleet/failure-detector.js';
import { SUSPECT_MS } from '../fleet/failure-detector.js';
import type { FleetView, LocalState } from '../fleet/fleet-view.js';
import type { GenerationStatus } from '../fleet/generation-keeper.js';
import type { LocalMember } from '../fleet/local-members.js';
import { hostOfMember } from '../fleet/member-id.js';
import { isVoter } from '../raft/membership.js';
import { Role } from '../raft/types.js';

export type { LocalState } from '../fleet/fleet-view.js';

export interface MemberStatus {
  group: string;
  groupId: number;
  member: string;
  role: 'leader' | 'follower' | 'candidate' | 'learner';
  term: number;
  leader: string;
  commit: number;
  applied: number;
  /** Entries committed but not yet applied here. */
  lag: number;
  /** Idle: no heartbeats until there is work. */
  quiesced: boolean;
}

export interface HostStatus {
  id: string;
  state: LocalState;
  zone: string | null;
  members: MemberStatus[];
  leaders: number;
  quiesced: number;
  /**
   * Groups with a replica here that have had no leader for over LEADERLESS_REPORT_MS, with how
   * many of their voters' hosts this host hears from. Fewer than a quorum for good means the group
   * lost its quorum: flotilla never repairs that on its own (it would mean choosing which
   * acknowledged writes to lose); bring the hosts back, or recover from a replica's data by hand.
   */
  leaderless: Array<{ group: string; sinceMs: number; voters: number; votersReachable: number }>;
  /**
   * Groups this host leads that have entries waiting and have committed none of them for over
   * NOT_REPLICATING_ELECTION_TIMEOUTS election timeouts: the leader hears its followers (or
   * CheckQuorum would have stepped it down) but its appends do not get through. Commands to them
   * time out; see the host's warn log for when it began.
   */
  notReplicating: Array<{ group: string; sinceMs: number; commit: number; lastIndex: number }>;
  /** This data directory's generation, and what this host has recorded of its peers' (fleet/generation.ts). */
  generation: GenerationStatus;
  /**
   * Replicas here that run with a handicap, and why (`reason`): their machine's snapshot throws
   * (the group carries on from its log, which is not compacted until a snapshot works), or their
   * snapshot did not restore (the replica takes no part in its group until the host restarts).
   */
  degraded: Array<{ group: string; reason: string; sinceMs: number }>;
  /**
   * Groups whose replica on another host held a different state than the one here at the same
   * applied index (their snapshots' hashes differ: a machine that is not deterministic). The
   * latest per group and peer host, with each host's hash, until the two agree again.
   */
  stateMismatches: Array<{ group: string; index: number; hashes: Record<string, string>; sinceMs: number }>;
}

/** A group without a leader this long shows in status().leaderless. */
export const LEADERLESS_REPORT_MS = 5000;
/** A leader that commits nothing with entries waiting for this many election timeouts shows in status().notReplicating. */
export const NOT_REPLICATING_ELECTION_TIMEOUTS = 6;

/** What status() reads. */
export interface StatusSources {
  view: FleetView;
  detector: FailureDetector;
  generation: () => GenerationStatus;
  now: () => number;
}

export function hostStatus({ view, detector, generation, now: clock }: StatusSources): HostStatus {
  const members: MemberStatus[] = [];
  let leaders = 0;
  for (const m of view.members.all()) {
    const status = memberStatus(m);
    if (status.role === 'leader') leaders++;
    members.push(status);
  }
  members.sort((a, b) => a.groupId - b.groupId);
  const now = clock();
  const leaderless = detector.leaderless(now, LEADERLESS_REPORT_MS).map(({ member: m, since }) => {
    const voters = m.replica.membership.voters;
    const reachable = voters.filter((v) => hostOfMember(v) === view.hostId || view.liveness.silentFor(hostOfMember(v)) < SUSPECT_MS).length;
    return { group: m.group, sinceMs: Math.round(now - since), voters: voters.length, votersReachable: reachable };
  });
  const quiesced = members.filter((m) => m.quiesced).length;
  const notReplicating = detector.stalled(now).flatMap(({ groupId, ...rest }) => {
    const m = view.members.get(groupId);
    return m === undefined ? [] : [{ group: m.group, ...rest }];
  });
  return {
    id: view.hostId,
    state: view.state,
    zone: view.metadata?.hosts[view.hostId]?.zone ?? null,
    members,
    leaders,
    quiesced,
    leaderless,
    notReplicating,
    generation: generation(),
    ...replicaHealth(view.hostId, now, view.members.all()),
  };
}

/**
 * One line per thing wrong with the replicas here (of `group`, or all): degraded ones, state
 * mismatches, leaders that cannot replicate.
 */
export function replicaWarnings({ view, detector, now: clock }: StatusSources, group?: string): string[] {
  // One group's alone when asked for one: the fleet view asks every group's leader.
  const member = group === undefined ? undefined : view.memberFor(group);
  const members = group === undefined ? [...view.members.all()] : member === undefined ? [] : [member];
  const now = clock();
  const { degraded, stateMismatches } = replicaHealth(view.hostId, now, members);
  const lines = degraded.map((d) => `group ${d.group} on ${view.hostId}: ${d.reason}`);
  const names = new Map(members.map((m) => [m.groupId, m.group]));
  for (const stall of detector.stalled(now)) {
    const name = names.get(stall.groupId);
    if (name === undefined) continue;
    lines.push(`group ${name}: its leader on ${view.hostId} has committed nothing for ${(stall.sinceMs / 1000).toFixed(1)} s (commit ${stall.commit}, last index ${stall.lastIndex})`);
  }
  for (const x of stateMismatches) {
    const hashes = Object.entries(x.hashes).map(([host, hash]) => `${host} ${hash}`).join(', ');
    lines.push(`group ${x.group}: replicas hold different states at index ${x.index} (${hashes})`);
  }
  return lines;
}

function memberStatus(m: LocalMember): MemberStatus {
  const replica = m.replica;
  return {
    group: m.group,
    groupId: m.groupId,
    member: m.member,
    role: isVoter(replica.membership, m.member) ? roleName(replica.role) : 'learner',
    term: replica.term,
    leader: replica.leader === '' ? '' : hostOfMember(replica.leader),
    commit: replica.committed,
    applied: replica.appliedIndex,
    lag: replica.committed - replica.appliedIndex,
    quiesced: replica.isQuiesced,
  };
}

/** status()'s degraded replicas and state mismatches, from each replica's health(). */
function replicaHealth(hostId: string, now: number, members: Iterable<LocalMember>): Pick<HostStatus, 'degraded' | 'stateMismatches'> {
  const degraded: HostStatus['degraded'] = [];
  const stateMismatches: HostStatus['stateMismatches'] = [];
  for (const m of members) {
    const health = m.replica.health();
    if (health.degraded !== null) degraded.push({ group: m.group, reason: health.degraded.reason, sinceMs: Math.round(now - health.degraded.since) });
    for (const x of health.mismatches) {
      stateMismatches.push({ group: m.group, index: x.index, hashes: { [hostId]: x.ours, [x.peer]: x.theirs }, sinceMs: Math.round(now - x.at) });
    }
  }
  return { degraded, stateMismatches };
}

function roleName(role: Role): MemberStatus['role'] {
  switch (role) {
    case Role.Leader:
      return 'leader';
    case Role.Candidate:
    case Role.PreCandidate:
      return 'candidate';
    case Role.Follower:
      return 'follower';
  }
}
