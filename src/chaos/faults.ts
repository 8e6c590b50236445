// The fault schedule of `npm run chaos`, drawn up front from the seed: when, what (SIGKILL and
// restart, SIGSTOP and SIGCONT, deactivate and activate again) and to which host, and how long the
// host stays out. A kill may also hit a host that is out already (mid-drain, inactive, activating
// again, frozen): it takes no further host out. Real processes are not deterministic, so the seed
// fixes this plan, not what happens: at run time a fault that would take a third host out of
// service, or hits a host that is not serving (a kill: that is down or restarting), is skipped
// and counted.

import { randomInt, type Random } from '../raft/random.js';

export type FaultKind = 'kill' | 'pause' | 'deactivate';

export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'pause', 'deactivate'];

export interface PlannedFault {
  /** Milliseconds after the clients start. */
  atMs: number;
  kind: FaultKind;
  host: string;
  /**
   * kill: how long the host stays down before its restart; pause: how long it stays frozen;
   * deactivate: how long it stays inactive (after its members have left) before activating again.
   */
  holdMs: number;
}

/** At most this many hosts are out of service (down, frozen, draining or inactive) at once. */
export const MAX_OUT = 2;

/**
 * How long each kind keeps a host out beyond its hold, as the plan guesses it (a restart and
 * activation, a drain): the plan spaces faults by these; the run enforces MAX_OUT regardless.
 */
const EXTRA_MS: Record<FaultKind, number> = { kill: 4000, pause: 0, deactivate: 6000 };

/** The share of planned kills aimed at a host already out, when there is one. */
const KILL_OUT_RATE = 0.4;

export interface FaultPlanOptions {
  /** The plan covers [startMs, endMs). */
  startMs: number;
  endMs: number;
  hosts: readonly string[];
  /** Time between faults, drawn from [minGapMs, maxGapMs). */
  minGapMs: number;
  maxGapMs: number;
}

export function planFaults(random: Random, o: FaultPlanOptions): PlannedFault[] {
  const plan: PlannedFault[] = [];
  const busyUntil = new Map<string, number>();
  for (let t = o.startMs + randomInt(random, 0, o.maxGapMs); t < o.endMs; t += randomInt(random, o.minGapMs, o.maxGapMs)) {
    const kind = FAULT_KINDS[randomInt(random, 0, FAULT_KINDS.length)]!;
    const holdMs = kind === 'kill' ? randomInt(random, 500, 5000) : kind === 'pause' ? randomInt(random, 200, 4500) : randomInt(random, 500, 4000);
    const free = o.hosts.filter((h) => (busyUntil.get(h) ?? 0) <= t);
    const busy = o.hosts.filter((h) => !free.includes(h));
    // Now and then a kill hits a host that is already out (draining, inactive, activating, frozen).
    if (kind === 'kill' && busy.length > 0 && random() < KILL_OUT_RATE) {
      const host = busy[randomInt(random, 0, busy.length)]!;
      busyUntil.set(host, t + holdMs + EXTRA_MS.kill);
      plan.push({ atMs: t, kind, host, holdMs });
      continue;
    }
    if (busy.length >= MAX_OUT || free.length === 0) continue;
    const host = free[randomInt(random, 0, free.length)]!;
    busyUntil.set(host, t + holdMs + EXTRA_MS[kind]);
    plan.push({ atMs: t, kind, host, holdMs });
  }
  return plan;
}
