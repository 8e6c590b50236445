// The stress faults of `npm run chaos`, beside the host faults of faults.ts: what issue 14 found
// could wedge a group or stop a host, aimed at the running fleet.
// - oversize: a command one byte over maxCommandBytes (must be refused BAD_ARGUMENT at once), and
//   every other time also the largest allowed one (must commit); either way the group must go on
//   taking commands;
// - flood: a helper process holds many sockets that never authenticate against one host for a
//   few seconds (the host must keep serving; no host may stop itself);
// - hog: processes burning CPU beside the hosts for a few seconds, at times more than cores.
// None takes a host out of service, so none counts toward MAX_OUT. The plan is drawn up front from
// its own seeded stream (the host faults' plan for a seed stays what it was); its first three
// faults are one of each kind in a seeded order, so that even a 20 s run has each.

import { randomInt, type Random } from '../raft/random.js';

export type StressKind = 'oversize' | 'flood' | 'hog';

export const STRESS_KINDS: readonly StressKind[] = ['oversize', 'flood', 'hog'];

export interface PlannedStress {
  /** Milliseconds after the clients start. */
  atMs: number;
  kind: StressKind;
  /** flood, hog: how long it lasts; oversize: 0. */
  holdMs: number;
  /** flood: sockets held; hog: busy processes; oversize: 1. */
  count: number;
  /** oversize: also the largest allowed command. */
  largest: boolean;
  /** flood: the host aimed at (another one that is up, if it is not). */
  host: string;
}

export interface StressPlanOptions {
  /** The plan covers [startMs, endMs). */
  startMs: number;
  endMs: number;
  hosts: readonly string[];
  /** CPU cores of the machine: hogs number from 1 to cores + 2. */
  cores: number;
}

/** Time between stress faults, drawn from [MIN_GAP_MS, MAX_GAP_MS): three fit in any 16 s. */
const MIN_GAP_MS = 3000;
const MAX_GAP_MS = 5500;
/** Sockets a flood holds: a few times what the hosts take unauthenticated from one address (32). */
const FLOOD_SOCKETS: readonly [number, number] = [100, 401];

export function planStress(random: Random, o: StressPlanOptions): PlannedStress[] {
  const plan: PlannedStress[] = [];
  const first = shuffled(random, STRESS_KINDS);
  let oversized = 0;
  for (let t = o.startMs + randomInt(random, 0, 2000); t < o.endMs; t += randomInt(random, MIN_GAP_MS, MAX_GAP_MS)) {
    const kind = first[plan.length] ?? STRESS_KINDS[randomInt(random, 0, STRESS_KINDS.length)]!;
    const host = o.hosts[randomInt(random, 0, o.hosts.length)]!;
    switch (kind) {
      case 'oversize':
        plan.push({ atMs: t, kind, holdMs: 0, count: 1, largest: oversized++ % 2 === 0, host });
        break;
      case 'flood':
        plan.push({ atMs: t, kind, holdMs: randomInt(random, 2000, 5000), count: randomInt(random, ...FLOOD_SOCKETS), largest: false, host });
        break;
      case 'hog':
        plan.push({ atMs: t, kind, holdMs: randomInt(random, 1500, 4000), count: randomInt(random, 1, o.cores + 3), largest: false, host });
        break;
    }
  }
  return plan;
}

function shuffled<T>(random: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(random, 0, i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
