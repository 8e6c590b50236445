// A worker thread of `npm run sim`: runs its share of the seeds and posts each run's summary.

import { parentPort, workerData } from 'node:worker_threads';
import type { SimMode } from './cli.js';
import { runFleetSeed } from './fleet-sim.js';
import { runLoopSeed } from './loop-sim.js';
import { runSeed, type RunSummary } from './raft-sim.js';
import type { SimResult } from './kernel/sim-result.js';

const { seeds, sim } = workerData as { seeds: number[]; sim: SimMode };
for (const seed of seeds) {
  // One seed at a time: the loop and fleet simulations own the event loop while they run.
  const result: SimResult =
    sim.mode === 'fleet' ? await runFleetSeed(seed, sim.faults) : sim.mode === 'loop' ? await runLoopSeed(seed, sim.faults) : runSeed(seed, sim.faults);
  const { history: _history, ...summary } = result;
  parentPort!.postMessage(summary satisfies RunSummary);
}
