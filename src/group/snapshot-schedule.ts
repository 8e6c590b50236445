// When a group snapshots, and what it does when the machine's snapshot throws.
//
// Snapshots are taken at the applied indexes that are multiples of `snapshotEvery`, exactly there
// (between two entries, not at the end of a turn's batch), so every replica snapshots the same
// states: their bytes can be compared across replicas (state-hash.ts) and a leader's snapshot is
// at an index its followers would have chosen too.
//
// A snapshot that throws (a state JSON.stringify cannot write, issue 14) must not stop the group:
// every replica runs the same machine on the same state, so they would all stop at once. The group
// goes on applying and serving from its log, which is then not compacted; it tries again at a
// later multiple, backing off in entries (1, 2, 4, then every 8 multiples on), so the schedule is
// the same on every replica and a failing snapshot costs little. The first failure of a streak is
// logged at error level, and the log's growth each time it doubles past 4 x snapshotEvery entries
// (the whole uncompacted log is held in memory and replayed at a restart): loud, but a bounded
// number of lines. The group reports itself degraded until a snapshot succeeds.

import type { Logger } from 'pino';

/** Multiples of snapshotEvery skipped at most between two attempts while snapshots fail. */
const MAX_BACKOFF_MULTIPLES = 8;
/** Uncompacted entries, in snapshotEvery, at which a failing group first says its log is growing. */
const GROWTH_WARNING_MULTIPLES = 4;

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
  /** The index at which the next snapshot is attempted. */
  private nextAt: number;
  /** The index of the last snapshot (taken or installed). */
  private lastAt: number;
  private streak: SnapshotFailureStreak | null = null;
  /** Uncompacted entries at which the growth of the log is next logged. */
  private growthWarningAt = 0;

  constructor(
    private readonly every: number,
    snapshotIndex: number,
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.lastAt = snapshotIndex;
    this.nextAt = this.multipleAfter(snapshotIndex);
  }

  /** Whether to snapshot right after applying `index` (entries apply one index at a time). */
  due(index: number): boolean {
    return index === this.nextAt;
  }

  /** A snapshot was taken at `index` (or installed from the leader): the next is one multiple on. */
  succeeded(index: number): void {
    if (this.streak !== null) {
      this.logger.info({ index, failures: this.streak.failures }, 'snapshots work again: the log is compacted');
      this.streak = null;
    }
    this.lastAt = index;
    this.nextAt = this.multipleAfter(index);
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
    this.nextAt = index + this.every * Math.min(2 ** (failures - 1), MAX_BACKOFF_MULTIPLES);
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
    return `snapshot failed at index ${s.index}${times}: ${s.error}; log not compacted: ${applied - this.lastAt} entries since the last snapshot at ${this.lastAt}, next attempt at ${this.nextAt}`;
  }

  private multipleAfter(index: number): number {
    return (Math.floor(index / this.every) + 1) * this.every;
  }
}

/** "RangeError: Maximum call stack size exceeded": the error's class says as much as its message. */
export function errorName(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
