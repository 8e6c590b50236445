// When a group snapshots (group/snapshot-schedule.ts): at the multiples of snapshotEvery, and while
// snapshots fail, at later ones, backing off in entries; degraded until one works.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { SnapshotSchedule } from '../../src/group/snapshot-schedule.js';

const silent = pino({ level: 'silent' });

/** The indexes up to `last` at which `schedule` is due, failing each while `fails(index)`. */
function attempts(schedule: SnapshotSchedule, last: number, fails: (index: number) => boolean): number[] {
  const due: number[] = [];
  for (let index = 1; index <= last; index++) {
    if (!schedule.due(index)) continue;
    due.push(index);
    if (fails(index)) schedule.failed(index, new RangeError('Maximum call stack size exceeded'));
    else schedule.succeeded(index);
  }
  return due;
}

describe('snapshot schedule', () => {
  it('is due at every multiple, from where the last snapshot left it', () => {
    assert.deepEqual(attempts(new SnapshotSchedule(5, 0, silent, () => 0), 22, () => false), [5, 10, 15, 20]);
    assert.deepEqual(attempts(new SnapshotSchedule(5, 12, silent, () => 0), 22, () => false), [15, 20]);
    assert.deepEqual(attempts(new SnapshotSchedule(Number.MAX_SAFE_INTEGER, 0, silent, () => 0), 1000, () => false), []);
  });

  it('backs off 1, 2, 4, then 8 multiples while snapshots fail, describes why, and is back on every multiple once one works', () => {
    const schedule = new SnapshotSchedule(5, 0, silent, () => 7);
    assert.deepEqual(attempts(schedule, 125, (i) => i <= 80), [5, 10, 20, 40, 80, 120, 125]);
    assert.equal(schedule.failing, null);
    assert.equal(schedule.describe(125), null);
    const failing = new SnapshotSchedule(5, 0, silent, () => 7);
    attempts(failing, 44, () => true);
    assert.deepEqual(failing.failing, { failures: 4, index: 40, error: 'RangeError: Maximum call stack size exceeded', since: 7 });
    assert.equal(
      failing.describe(44),
      'snapshot failed at index 40 (4 attempts in a row): RangeError: Maximum call stack size exceeded; log not compacted: 44 entries since the last snapshot at 0, next attempt at 80',
    );
  });
});
