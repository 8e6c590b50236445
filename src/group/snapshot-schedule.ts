// When a group snapshots, and what it does when the machine's snapshot throws.
//
// Two rules, either of which makes a snapshot due right after an entry applies (between two
// entries, not at the end of a turn's batch):
// - the applied indexes that are multiples of `snapshotEvery`;
// - the log's bytes: once the entries applied since the last snapshot (or failed attempt) add up to
//   `max(maxLogBytes, the last snapshot's size)`, each counted as its data length plus
//   ENTRY_OVERHEAD_BYTES (the objects that hold it in memory). That bounds the log kept (on disk,
//   and in memory where Raft has no LogReader to release it to) and what a member catches up from
//   besides the snapshot; the second term keeps a machine with a large state from snapshotting
//   more than one serialized byte per logged byte.
// Both are functions of what every replica has alike, so every replica snapshots the same states:
// their bytes can be compared across replicas (state-hash.ts) and a leader's snapshot is at an index
// its followers would have chosen too. The schedule's state after an index is decided by the last
// snapshot's index and bytes (the same on every replica: each took or installed it at the same
// index, with the same bytes) and the entries after it (the same log). A replica that restarts
// starts from its stored snapshot (constructor) and replays the same entries; one that installs
// the leader's snapshot (succeeded()) takes the state the leader had right after taking it; a
// failing snapshot fails at the same index on every replica (the same machine on the same state),
// and its back-off below is counted in entries and bytes from that index.
//
// A snapshot that throws (a state JSON.stringify cannot write, issue 14) must not stop the group:
// every replica runs the same machine on the same state, so they would all stop at once. The group
// goes on applying and serving from its log, which is then not compacted; it tries again later,
// backing off (1, 2, 4, then every 8 times snapshotEvery entries or the byte bound, whichever comes
// first), so the schedule is the same on every replica and a failing snapshot costs little. The
// first failure of a streak is logged at error level, and the log's growth each time it doubles
// past 4 x snapshotEvery entries (the whole uncompacted log is kept on disk, its terms in memory,
// and replayed at a restart): loud, but a bounded number of lines. The group reports itself degraded until a
// snapshot succeeds.

import type { Logger } from 'pino';

/** Multiples of snapshotEvery (or of the byte bound) skipped at most between two attempts while snapshots fail. */
const MAX_BACKOFF_MULTIPLES = 8;
/** Uncompacted entries, in snapshotEvery, at which a failing group first says its log is growing. */
const GROWTH_WARNING_MULTIPLES = 4;
/**
 * What an entry counts toward the byte bound besides its data: the objects that hold it in memory
 * (its Entry object, its Uint8Array, its slot in the log), measured with Node 22 at about 160 B for
 * an entry whose data is a view into a shared buffer and about 430 B for one with its own
 * ArrayBuffer (a leader's proposal). A protocol constant: every replica must count alike, or their
 * snapshots fall at different indexes (their state hashes would not compare).
 */
export const ENTRY_OVERHEAD_BYTES = 256;
/**
 * The default byte bound of the log since the last snapshot. 512 KiB keeps a busy group's log at
 * about 256 KiB on average, where 10,000 entries of 1 KiB were about 13 MiB: the 100 groups the
 * benchmark's matrix writes tens of thousands of values to held most of a host's 631 MiB (issue
 * 16); in the quick bench (1 and 100 groups x 256 x 1 KiB, then 1000 groups' failover and drain)
 * RSS per host went from 243-275 to 226-246 MiB, and a member that moves catches up from a
 * snapshot plus at most this much log. It stays above what a follower in step lags its leader's
 * applied index by (a round of a group with 256 commands of 1 KiB in flight: about 320 KiB
 * counted), and a leader keeps what its followers in contact lack behind a snapshot, back to the
 * previous one (Group.tailBehind), so the snapshots it adds do not push a follower in step into a
 * snapshot even when it falls back to probing: only one more than an interval behind gets one.
 * (Raft's own bound on what is in flight, maxInflight x maxAppendBytes = 64 MiB, is far beyond
 * what a group has unanswered in practice: proposals stop at maxPendingCommands.) A larger bound
 * snapshots less often: a machine whose state is larger than the bound already snapshots only
 * every state's size of log (the second term of the rule).
 */
export const DEFAULT_MAX_LOG_BYTES = 512 * 1024;

/** When snapshots are due: every `every` entries and every `maxLogBytes` of log (see above). */
export interface SnapshotRules {
  every: number;
  maxLogBytes: number;
}

/** The snapshot a schedule starts from (taken, stored or installed): its index and its size in bytes; 0, 0 for none. */
export interface SnapshotPoint {
  index: number;
  bytes: number;
}

export interface SnapshotFailureStreak {
  /** Consecutive failed attempts. */
  failures: number;
  /** The latest attempt's index and error ("RangeError: Maximum call stack size exceeded"). */
  index: number;
  error: string;
  /** The group's clock (ms) at the first failure of the streak. */
  since: number;
}

export class SnapshotSchedule {
  private readonly every: number;
  private readonly maxLogBytes: number;
  /** The index at which the next snapshot is attempted (by the entry rule). */
  private nextAt: number;
  /** The index of the last snapshot (taken or installed). */
  private lastAt: number;
  /** The byte bound after the last snapshot: max(maxLogBytes, its size). */
  private bound: number;
  /** Bytes of the entries applied since the last snapshot or failed attempt, as counted for the bound. */
  private logged = 0;
  /** Bytes logged at which the next snapshot is attempted (by the byte rule). */
  private nextBytes: number;
  private streak: SnapshotFailureStreak | null = null;
  /** Uncompacted entries at which the growth of the log is next logged. */
  private growthWarningAt = 0;

  constructor(
    rules: SnapshotRules,
    last: SnapshotPoint,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.every = rules.every;
    this.maxLogBytes = rules.maxLogBytes;
    this.lastAt = last.index;
    this.nextAt = this.multipleAfter(last.index);
    this.bound = Math.max(this.maxLogBytes, last.bytes);
    this.nextBytes = this.bound;
  }

  /**
   * Whether to snapshot right after applying `index`, an entry of `dataBytes` bytes of data. Called
   * for every entry applied, in order (entries apply one index at a time), and only then.
   */
  due(index: number, dataBytes: number): boolean {
    this.logged += dataBytes + ENTRY_OVERHEAD_BYTES;
    return index === this.nextAt || this.logged >= this.nextBytes;
  }

  /** A snapshot of `bytes` bytes was taken at `index` (or installed from the leader): the next is one multiple, or one bound, on. */
  succeeded(index: number, bytes: number): void {
    if (this.streak !== null) {
      this.logger.info({ index, failures: this.streak.failures }, 'snapshots work again: the log is compacted');
      this.streak = null;
    }
    this.lastAt = index;
    this.nextAt = this.multipleAfter(index);
    this.bound = Math.max(this.maxLogBytes, bytes);
    this.logged = 0;
    this.nextBytes = this.bound;
  }

  /** The machine's snapshot at `index` threw: try again later, and say so. */
  failed(index: number, err: unknown): void {
    const error = errorName(err);
    const failures = (this.streak?.failures ?? 0) + 1;
    if (this.streak === null) {
      this.logger.error({ err, index }, 'snapshot failed: the group carries on from its log, which is not compacted until a snapshot succeeds');
      this.growthWarningAt = GROWTH_WARNING_MULTIPLES * this.every;
    }
    this.streak = { failures, index, error, since: this.streak?.since ?? this.now() };
    const uncompacted = index - this.lastAt;
    if (uncompacted >= this.growthWarningAt) {
      this.logger.error({ index, failures, uncompactedEntries: uncompacted, lastSnapshot: this.lastAt, error }, 'log growing: snapshots keep failing, so no entry is compacted');
      while (this.growthWarningAt <= uncompacted) this.growthWarningAt *= 2;
    }
    const backoff = Math.min(2 ** (failures - 1), MAX_BACKOFF_MULTIPLES);
    this.nextAt = index + this.every * backoff;
    this.logged = 0;
    this.nextBytes = this.bound * backoff;
  }

  /** The current failure streak, if snapshots are failing. */
  get failing(): SnapshotFailureStreak | null {
    return this.streak;
  }

  /** Why the group is degraded, with `applied` its applied index now; null while snapshots work. */
  describe(applied: number): string | null {
    const s = this.streak;
    if (s === null) return null;
    const times = s.failures === 1 ? '' : ` (${s.failures} attempts in a row)`;
    const bytes = this.nextBytes <= Number.MAX_SAFE_INTEGER ? ` or after ${this.nextBytes - this.logged} more bytes of log` : '';
    return `snapshot failed at index ${s.index}${times}: ${s.error}; log not compacted: ${applied - this.lastAt} entries since the last snapshot at ${this.lastAt}, next attempt at ${this.nextAt}${bytes}`;
  }

  private multipleAfter(index: number): number {
    return (Math.floor(index / this.every) + 1) * this.every;
  }
}

/** "RangeError: Maximum call stack size exceeded": the error's class says as much as its message. */
export function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
