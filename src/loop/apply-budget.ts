// How much applying one host loop turn may do, across all of its groups. A host catching up a
// long log (a restart, a slow state machine, a follower far behind) would otherwise apply it in
// one go on the event loop: no ping, heartbeat or vote is answered meanwhile, its peers mark it
// failed, and its groups elect new leaders elsewhere. With a budget the turn stops applying once
// the budget is spent, and the groups go on where they stopped in the next turn, after the event
// loop had its turn at the network and the timers.

import { assert } from '../common/assert.js';

/** Asked before each committed entry is applied. */
export interface ApplyBudget {
  /** Whether one more entry may be applied now (and counts it). */
  take(): boolean;
}

/**
 * One turn's budget: `maxMs` of applying from the first entry on, and at most `maxEntries`
 * entries. The first entry is always allowed, so every turn makes progress however slow one
 * command is (a single command cannot be cut).
 */
export class TurnApplyBudget implements ApplyBudget {
  private readonly deadline: number;
  private applied = 0;
  /** A take() was refused: some group stopped short of what it had to apply. */
  refused = false;

  constructor(
    private readonly now: () => number,
    maxMs: number,
    private readonly maxEntries: number,
  ) {
    // The loop refuses other values with BAD_ARGUMENT; the first-entry rule relies on them.
    assert(maxMs >= 0 && maxEntries >= 1, () => `an apply budget allows at least one entry in a slice of no negative length: got ${maxEntries} entries, ${maxMs} ms`);
    this.deadline = now() + maxMs;
  }

  take(): boolean {
    if (this.refused) return false;
    if (this.applied > 0 && (this.applied >= this.maxEntries || this.now() >= this.deadline)) {
      this.refused = true;
      return false;
    }
    this.applied++;
    return true;
  }

  /** Entries taken so far. */
  get taken(): number {
    return this.applied;
  }
}
