// The counters a Host keeps for its metrics (host.metrics(), rendered on /metrics by admin/metrics.ts).
// Counting is a field increment: the groups add to the same object (GroupCounters), the Host times
// each command it serves as leader into a fixed-bucket histogram, and failed calls are counted by
// error code in a map whose keys are the few codes there are. Nothing here allocates per command
// or runs a timer.

import type { GroupCounters } from '../group/group.js';
import type { TransportStats } from '../transport/transport.js';
import type { ConnectionStats } from '../transport/transport.js';

/** Upper bounds (seconds) of the commit latency histogram's buckets; +Inf is implied. */
export const COMMIT_LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] as const;

export interface Histogram {
  /** Cumulative counts, one per bound of COMMIT_LATENCY_BUCKETS (le), then +Inf (== count). */
  buckets: Array<{ le: number; count: number }>;
  count: number;
  /** Sum of the observations, in seconds. */
  sum: number;
}

export interface HostMetrics {
  /** Commands proposed to the Raft log by leaders on this host (refused ones are not). */
  proposals: number;
  /**
   * Commands this host served as leader, from receipt to applied here (seconds): the commit and
   * apply latency a client sees minus its network hops. Commands the machine threw on count too.
   */
  commitLatency: Histogram;
  /** Commands the replicas on this host applied, by outcome (every replica counts its own). */
  applied: { ok: number; failed: number };
  /** Elections started by replicas on this host (a new term with a vote for itself). */
  elections: number;
  /** Leaderships won by replicas on this host (a new leader's first entry applied). */
  leaderChanges: number;
  /** Membership changes (add learner, promote, remove) committed by leaders on this host. */
  membershipChanges: number;
  /** Snapshots a machine threw on (the group carried on from its log), and snapshots it could not restore (the replica stalled). */
  snapshotFailures: number;
  restoreFailures: number;
  /** Other replicas found holding a different state at the same applied index. */
  stateMismatches: number;
  /** Command and query calls served here that failed, by FlotillaError code (NOT_LEADER: redirects). */
  errors: Record<string, number>;
  /** The host loop: turns with work, store writes, synced writes (fsyncs), turns whose apply budget ran out. */
  loop: { turns: number; writes: number; syncs: number; applyCutShort: number };
  /** The transport's frames, items and bytes. */
  transport: TransportStats;
  /** Connections against their limits and those refused at accept (null: a transport that does not listen). */
  connections: ConnectionStats | null;
  /** Fleet operations (status, add-group, deactivate) served to clients. */
  fleetOps: { fleet: number; addGroup: number; deactivate: number; activate: number; local: number; errors: number };
}

export class HostCounters implements GroupCounters {
  proposals = 0;
  appliedOk = 0;
  appliedFailed = 0;
  elections = 0;
  leaderChanges = 0;
  membershipChanges = 0;
  snapshotFailures = 0;
  restoreFailures = 0;
  stateMismatches = 0;
  private readonly latencyCounts = new Float64Array(COMMIT_LATENCY_BUCKETS.length + 1);
  private latencyCount = 0;
  private latencySum = 0;
  private readonly errorCounts = new Map<string, number>();

  /** A command served as leader was applied `ms` milliseconds after it arrived. */
  committed(ms: number): void {
    const seconds = ms / 1000;
    let i = 0;
    while (i < COMMIT_LATENCY_BUCKETS.length && seconds > COMMIT_LATENCY_BUCKETS[i]!) i++;
    this.latencyCounts[i]!++;
    this.latencyCount++;
    this.latencySum += seconds;
  }

  /** A command or query call served here failed with `code`. */
  failed(code: string): void {
    this.errorCounts.set(code, (this.errorCounts.get(code) ?? 0) + 1);
  }

  snapshot(): Pick<
    HostMetrics,
    'proposals' | 'commitLatency' | 'applied' | 'elections' | 'leaderChanges' | 'membershipChanges' | 'snapshotFailures' | 'restoreFailures' | 'stateMismatches' | 'errors'
  > {
    let cumulative = 0;
    const buckets: Histogram['buckets'] = COMMIT_LATENCY_BUCKETS.map((le, i) => ({ le, count: (cumulative += this.latencyCounts[i]!) }));
    buckets.push({ le: Infinity, count: this.latencyCount });
    return {
      proposals: this.proposals,
      commitLatency: { buckets, count: this.latencyCount, sum: this.latencySum },
      applied: { ok: this.appliedOk, failed: this.appliedFailed },
      elections: this.elections,
      leaderChanges: this.leaderChanges,
      membershipChanges: this.membershipChanges,
      snapshotFailures: this.snapshotFailures,
      restoreFailures: this.restoreFailures,
      stateMismatches: this.stateMismatches,
      errors: Object.fromEntries([...this.errorCounts].sort(([a], [b]) => (a < b ? -1 : 1))),
    };
  }
}
