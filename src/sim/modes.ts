// The three simulations `npm run sim` runs (cli.ts), each with its faults, and one seed of any of them.

import { runFleetSeed, type FleetFaults } from './fleet-sim.js';
import type { SimResult } from './kernel/sim-result.js';
import { runLoopSeed, type LoopFaults } from './loop-sim.js';
import { runSeed, type SimFaults } from './raft-sim.js';

/** Which simulation runs, with its faults. */
export type SimMode = { mode: 'raft'; faults: SimFaults } | { mode: 'loop'; faults: LoopFaults } | { mode: 'fleet'; faults: FleetFaults };

export function runSimSeed(seed: number, sim: SimMode): Promise<SimResult> {
  switch (sim.mode) {
    case 'raft':
      return Promise.resolve(runSeed(seed, sim.faults));
    case 'loop':
      return runLoopSeed(seed, sim.faults);
    case 'fleet':
      return runFleetSeed(seed, sim.faults);
  }
}
