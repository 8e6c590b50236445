// Which groups a tick of the loop's clock must reach: each awake group is filed under the clock
// value on which a timer of its Raft can next fire (Group.dueClock), and a tick takes only the
// groups filed under it. Between those ticks a group's ticks pile up and are caught up at once,
// by the next due tick or the next input (Group.catchUp), so a follower costs one visit per
// election timeout and a leader one per heartbeat interval rather than one per tick each.
//
// A group filed once stays filed under its earliest due tick: moving it later when an input
// pushes its timer back (a follower hearing its leader) would cost a lookup per message, and the
// early visit only catches it up and files it again.

import { assert } from '../common/assert.js';

export class DueTicks<G> {
  /** Groups by the clock value they are due on. */
  private readonly byClock = new Map<number, Set<G>>();
  /** Each filed group's clock value. */
  private readonly dueOf = new Map<G, number>();

  /** Files `group` under `clock`, unless it is filed under an earlier one already. */
  file(group: G, clock: number): void {
    assert(Number.isInteger(clock), () => `a group is due on a whole tick, not ${clock}`);
    const filed = this.dueOf.get(group);
    if (filed !== undefined) {
      if (filed <= clock) return;
      this.bucket(filed).delete(group);
    }
    this.dueOf.set(group, clock);
    const groups = this.byClock.get(clock);
    if (groups === undefined) this.byClock.set(clock, new Set([group]));
    else groups.add(group);
  }

  /** Takes out, in filing order, every group due on a clock value in (from, to]. */
  take(from: number, to: number, into: G[]): void {
    // A long pause can skip many ticks; then walking the filed values is cheaper than the range.
    if (to - from > this.byClock.size) {
      for (const clock of [...this.byClock.keys()].sort((a, b) => a - b)) if (clock > from && clock <= to) this.takeAt(clock, into);
    } else {
      for (let clock = from + 1; clock <= to; clock++) this.takeAt(clock, into);
    }
  }

  delete(group: G): void {
    const filed = this.dueOf.get(group);
    if (filed === undefined) return;
    this.dueOf.delete(group);
    this.bucket(filed).delete(group);
  }

  clear(): void {
    this.byClock.clear();
    this.dueOf.clear();
  }

  private takeAt(clock: number, into: G[]): void {
    const groups = this.byClock.get(clock);
    if (groups === undefined) return;
    this.byClock.delete(clock);
    for (const group of groups) {
      this.dueOf.delete(group);
      into.push(group);
    }
  }

  private bucket(clock: number): Set<G> {
    const groups = this.byClock.get(clock);
    assert(groups !== undefined, () => `a filed group's tick ${clock} has its set`);
    return groups;
  }
}
