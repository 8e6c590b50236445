// When a group snapshots (group/snapshot-schedule.ts): at the multiples of snapshotEvery and once the
// log since the last snapshot reaches its byte bound, and while snapshots fail, later, backing off;
// degraded until one works. The same entries and snapshot bytes give the same snapshot indexes on
// every replica: one that ran through, one that restarted from a stored snapshot, one that
// installed the leader's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { ENTRY_OVERHEAD_BYTES, SnapshotSchedule, type SnapshotRules } from '../../src/group/snapshot-schedule.js';

const silent = pino({ level: 'silent' });
const NO_BYTE_RULE = Number.MAX_SAFE_INTEGER;

function schedule(every: number, from = 0, maxLogBytes = NO_BYTE_RULE, fromBytes = 0): SnapshotSchedule {
  return new SnapshotSchedule({ every, maxLogBytes }, { index: from, bytes: fromBytes }, silent, () => 7);
}

interface Run {
  /** Data bytes of the entry at an index. */
  size?: (index: number) => number;
  /** Whether the snapshot at an index throws. */
  fails?: (index: number) => boolean;
  /** The bytes of the snapshot taken at an index. */
  snapshotBytes?: (index: number) => number;
}

/** The indexes from `first` to `last` at which `s` is due, failing each while `fails(index)`. */
function attempts(s: SnapshotSchedule, last: number, run: Run = {}, first = 1): number[] {
  const due: number[] = [];
  for (let index = first; index <= last; index++) {
    if (!s.due(index, run.size?.(index) ?? 0)) continue;
    due.push(index);
    if (run.fails?.(index) === true) s.failed(index, new RangeError('Maximum call stack size exceeded'));
    else s.succeeded(index, run.snapshotBytes?.(index) ?? 0);
  }
  return due;
}

describe('snapshot schedule', () => {
  it('is due at every multiple, from where the last snapshot left it', () => {
    assert.deepEqual(attempts(schedule(5), 22), [5, 10, 15, 20]);
    assert.deepEqual(attempts(schedule(5, 12), 22, {}, 13), [15, 20]);
    assert.deepEqual(attempts(schedule(Number.MAX_SAFE_INTEGER), 1000), []);
  });

  it('backs off 1, 2, 4, then 8 multiples while snapshots fail, describes why, and is back on every multiple once one works', () => {
    const s = schedule(5);
    assert.deepEqual(attempts(s, 125, { fails: (i) => i <= 80 }), [5, 10, 20, 40, 80, 120, 125]);
    assert.equal(s.failing, null);
    assert.equal(s.describe(125), null);
    const failing = schedule(5);
    attempts(failing, 44, { fails: () => true });
    assert.deepEqual(failing.failing, { failures: 4, index: 40, error: 'RangeError: Maximum call stack size exceeded', since: 7 });
    assert.equal(
      failing.describe(44),
      'snapshot failed at index 40 (4 attempts in a row): RangeError: Maximum call stack size exceeded; log not compacted: 44 entries since the last snapshot at 0, next attempt at 80',
    );
    const byBytes = schedule(1_000_000, 0, 2000);
    attempts(byBytes, 5, { size: () => 1000 - ENTRY_OVERHEAD_BYTES, fails: () => true });
    assert.match(byBytes.describe(5)!, /snapshot failed at index 4 \(2 attempts in a row\): .*next attempt at 2000004 or after 3000 more bytes of log$/);
  });

  it('is due once the entries since the last snapshot reach maxLogBytes, each counted as its data plus the overhead', () => {
    // Entries of 1000 - overhead bytes count 1000 each: due every 3 entries at a bound of 3000.
    const size = (): number => 1000 - ENTRY_OVERHEAD_BYTES;
    assert.deepEqual(attempts(schedule(1_000_000, 0, 3000), 10, { size }), [3, 6, 9]);
    // Just below the bound is not due: 2999 needs a fourth entry.
    assert.deepEqual(attempts(schedule(1_000_000, 0, 3001), 10, { size }), [4, 8]);
    // Empty entries (a leader's no-op, a config change) still count their overhead.
    assert.deepEqual(attempts(schedule(1_000_000, 0, 2 * ENTRY_OVERHEAD_BYTES), 6), [2, 4, 6]);
    // Both rules: the multiple of 5 and the bound, whichever comes first, each restarting the count.
    assert.deepEqual(attempts(schedule(5, 0, 3000), 12, { size }), [3, 5, 8, 10]);
  });

  it('bounds by the last snapshot size instead when that is larger: at most one serialized byte per logged byte', () => {
    const size = (): number => 1000 - ENTRY_OVERHEAD_BYTES;
    // Snapshots of 5000 bytes: the bound becomes 5000 after the first, which was due at 2000.
    assert.deepEqual(attempts(schedule(1_000_000, 0, 2000), 12, { size, snapshotBytes: () => 5000 }), [2, 7, 12]);
    // A replica restarting from a stored snapshot of 5000 bytes starts on the same bound.
    assert.deepEqual(attempts(schedule(1_000_000, 7, 2000, 5000), 12, { size, snapshotBytes: () => 5000 }, 8), [12]);
  });

  it('backs off in bytes too while snapshots fail, counted from the failed attempt', () => {
    const size = (): number => 1000 - ENTRY_OVERHEAD_BYTES;
    // A bound of 2 entries: attempts after 2, then 2, 4, 8, 16 entries later while failing.
    assert.deepEqual(attempts(schedule(1_000_000, 0, 2000), 40, { size, fails: (i) => i <= 16 }), [2, 4, 8, 16, 32, 34, 36, 38, 40]);
  });

  it('gives the same indexes on a replica that ran through, one that restarted from its stored snapshot, and one that installed the leader s', () => {
    // Entry sizes and snapshot sizes that vary with the index, and a streak of failures: the
    // schedule must depend only on the log and the snapshots, never on where a replica started.
    const run: Run = {
      size: (i) => (i * 7919) % 3000,
      snapshotBytes: (i) => 1000 + ((i * 104_729) % 9000),
      fails: (i) => i > 300 && i < 420,
    };
    const rules: SnapshotRules = { every: 97, maxLogBytes: 4096 };
    const ran = attempts(new SnapshotSchedule(rules, { index: 0, bytes: 0 }, silent, () => 0), 1000, run);
    assert.ok(ran.length > 100, `the byte rule fires between multiples: ${ran.length} snapshots`);
    const succeeded = ran.filter((i) => !run.fails!(i));
    for (const from of succeeded.filter((_, k) => k % 9 === 0)) {
      // A restart from the snapshot stored at `from` (its size as it was taken), or an install of
      // the leader's snapshot at `from` (succeeded() on a schedule that had been elsewhere).
      const restarted = attempts(new SnapshotSchedule(rules, { index: from, bytes: run.snapshotBytes!(from) }, silent, () => 0), 1000, run, from + 1);
      assert.deepEqual(restarted, ran.filter((i) => i > from), `restart from ${from}`);
      const installer = new SnapshotSchedule(rules, { index: 0, bytes: 0 }, silent, () => 0);
      attempts(installer, Math.floor(from / 2), { ...run, size: () => 1 });
      installer.succeeded(from, run.snapshotBytes!(from));
      assert.deepEqual(attempts(installer, 1000, run, from + 1), ran.filter((i) => i > from), `install at ${from}`);
    }
  });
});
