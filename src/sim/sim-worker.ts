// A worker thread of parallel.ts: runs its share of the seeds and posts each run's summary.

import { parentPort, workerData } from 'node:worker_threads';
import type { RunSummary } from './kernel/sim-result.js';
import { runSimSeed, type SimMode } from './modes.js';

const { seeds, sim } = workerData as { seeds: number[]; sim: SimMode };
for (const seed of seeds) {
  // One seed at a time: the loop and fleet simulations own the event loop while they run.
  const { history: _history, ...summary } = await runSimSeed(seed, sim);
  parentPort!.postMessage(summary satisfies RunSummary);
}
