// The constants of the fault model the simulations share (world.ts), one set per simulation:
// how often faults come, how bad the network gets, how long a partition, a crash or a pause lasts,
// how slow a disk sync is. A chance of 0 draws nothing from the PRNG (the choice is never made).

/** Whole milliseconds in [lo, hi): randomInt(random, lo, hi). */
export type MsRange = readonly [lo: number, hi: number];

export interface FaultModel {
  /** From one injected fault to the next, while faults are on. */
  faultEveryMs: MsRange;
  /** A network change draws a drop rate in [0, maxDropRate) and a duplicate rate in [0, maxDuplicateRate)... */
  maxDropRate: number;
  maxDuplicateRate: number;
  /** ... and the longest delay of a message. */
  maxDelayMs: MsRange;
  /** How often a partition cuts the leader off (alone, or with each other node at isolateCompanionChance). */
  isolateLeaderChance: number;
  isolateCompanionChance: number;
  /** Otherwise each node is on the first side with this chance. */
  partitionSideChance: number;
  /** A partition cuts one direction only (first side -> second side). */
  oneWayChance: number;
  healAfterMs: MsRange;
  restartAfterMs: MsRange;
  /** A pause picks a leader's node with this chance, else any running node. */
  pauseLeaderChance: number;
  resumeAfterMs: MsRange;
  /** A disk sync takes up to slowSyncMaxMs while faults and delays are on, else syncMs. */
  slowSyncMaxMs: number;
  syncMs: number;
}
