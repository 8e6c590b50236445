// What the simulations of real groups (loop-sim, fleet-sim; raft-sim for its one group) remember to
// check two safety rules as the run goes: one leader per term in each group (election safety),
// and one outcome applied at each index of each group (state machine safety).

export class TermLeaders {
  /** The leader seen in each term, by group. */
  private readonly byGroup = new Map<number, Map<number, string>>();
  /** Terms seen with a leader, over all groups. */
  terms = 0;

  constructor(private readonly violate: (what: string) => void) {}

  /**
   * Records that `leader` leads `term` in `group`; true the first time a leader of that term is
   * seen. Another leader of the same term is a violation; `where` names the group in it ("group g1 in ").
   */
  see(group: number, term: number, leader: string, where = ''): boolean {
    let leaders = this.byGroup.get(group);
    if (leaders === undefined) {
      leaders = new Map();
      this.byGroup.set(group, leaders);
    }
    const known = leaders.get(term);
    if (known === undefined) {
      leaders.set(term, leader);
      this.terms++;
      return true;
    }
    if (known !== leader) this.violate(`election safety: ${known} and ${leader} both lead ${where}term ${term}`);
    return false;
  }
}

export class AppliedOutcomes {
  /** The outcome applied at each index (as JSON), by group id. */
  readonly byGroup = new Map<number, Map<number, string>>();

  constructor(private readonly violate: (what: string) => void) {}

  /** `replica` applied `outcome` at `index` of group `groupId` (`group` names it in a violation). */
  see(groupId: number, group: string, index: number, replica: string, outcome: unknown): void {
    let seen = this.byGroup.get(groupId);
    if (seen === undefined) {
      seen = new Map();
      this.byGroup.set(groupId, seen);
    }
    const text = JSON.stringify(outcome);
    const known = seen.get(index);
    if (known === undefined) seen.set(index, text);
    else if (known !== text) this.violate(`state machine safety: group ${group} index ${index}: ${replica} applied ${text}, another replica ${known}`);
  }
}
