// Leaders that cannot replicate. CheckQuorum steps down a leader that hears from no quorum, and
// such a group shows as leaderless; but a leader can keep hearing its followers' heartbeat answers
// while none of its appends gets through (the transport refuses them, a follower's disk fails its
// writes, an entry no append carries): it stays leader, commits nothing, and every command to the
// group times out. This watch notices: a leader with entries waiting whose commit index has not
// moved for `afterMs` is stalled, until its commit moves, it has nothing left to commit, or it no
// longer leads.

/** What the watch needs to know of one replica, at one look. */
export interface ReplicationView {
  leading: boolean;
  commit: number;
  lastIndex: number;
}

export interface StalledGroup {
  groupId: number;
  /** Milliseconds since its commit index last moved (with entries waiting all along). */
  sinceMs: number;
  commit: number;
  lastIndex: number;
}

export class StallWatch {
  /** Per group with entries waiting: the commit index it had since when, its last index at the last look, whether the streak was reported. */
  private readonly streaks = new Map<number, { commit: number; since: number; lastIndex: number; reported: boolean }>();

  constructor(private readonly afterMs: number) {}

  /** One look at a replica. True once per streak: when it first counts as stalled (the caller logs it). */
  observe(groupId: number, view: ReplicationView, now: number): boolean {
    if (!view.leading || view.lastIndex <= view.commit) {
      this.streaks.delete(groupId);
      return false;
    }
    const streak = this.streaks.get(groupId);
    if (streak === undefined || streak.commit !== view.commit) {
      this.streaks.set(groupId, { commit: view.commit, since: now, lastIndex: view.lastIndex, reported: false });
      return false;
    }
    streak.lastIndex = view.lastIndex;
    if (streak.reported || now - streak.since < this.afterMs) return false;
    streak.reported = true;
    return true;
  }

  /** Forgets every group not in `groupIds` (its replica quiesced, so everything is committed, or left this host). */
  retain(groupIds: ReadonlySet<number>): void {
    for (const groupId of this.streaks.keys()) if (!groupIds.has(groupId)) this.streaks.delete(groupId);
  }

  /** Groups stalled for at least afterMs as of `now`, with what their last look saw. */
  stalled(now: number): StalledGroup[] {
    const out: StalledGroup[] = [];
    for (const [groupId, streak] of this.streaks) {
      if (now - streak.since >= this.afterMs) out.push({ groupId, sinceMs: Math.round(now - streak.since), commit: streak.commit, lastIndex: streak.lastIndex });
    }
    return out;
  }
}
