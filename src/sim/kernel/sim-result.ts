// What every simulation (raft-sim, loop-sim, fleet-sim) reports for one seed, and the end of a run
// they share: the client history goes through the linearizability checker unless a violation
// already ended the run.

import type { HistoryOp } from '../../check/history.js';
import { checkLinearizability } from '../../check/linearizability.js';

export interface SimStats {
  ops: number;
  okOps: number;
  elections: number;
  messages: number;
  virtualMs: number;
}

export interface SimResult {
  seed: number;
  ok: boolean;
  violations: string[];
  /** The last events before the end (or the violation), one line each. */
  trace: string[];
  history: HistoryOp[];
  stats: SimStats;
}

/** What a run reports back to the command line (without its history). */
export type RunSummary = Omit<SimResult, 'history'>;

export interface RunEnd {
  seed: number;
  /** The run's violations so far; `violate` adds to them. */
  violations: string[];
  violate(what: string): void;
  trace: string[];
  history: HistoryOp[];
  stats: Omit<SimStats, 'ops'>;
}

/** Checks the history of a run that has no violation yet, and assembles its result. */
export function finishRun(end: RunEnd): SimResult {
  const { history } = end;
  if (end.violations.length === 0) {
    const lin = checkLinearizability(history);
    if (lin.ok === false) end.violate(`history not linearizable on key ${lin.key}: ${lin.explanation}`);
    else if (lin.ok === 'unknown') end.violate(`linearizability check gave up: ${lin.reason}`);
  }
  return {
    seed: end.seed,
    ok: end.violations.length === 0,
    violations: end.violations,
    trace: end.trace,
    history,
    stats: { ops: history.length, ...end.stats },
  };
}

/** How a run reports an exception thrown by the code under test. */
export function exceptionText(err: unknown): string {
  return `exception: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}
