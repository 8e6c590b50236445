// A worker thread of `npm run sim`: runs its share of the seeds and posts each run's summary.

import { parentPort, workerData } from 'node:worker_threads';
import { runSeed, type RunSummary, type SimFaults } from './raft-sim.js';

const { seeds, faults } = workerData as { seeds: number[]; faults: SimFaults };
for (const seed of seeds) {
  const { history: _history, ...summary } = runSeed(seed, faults);
  parentPort!.postMessage(summary satisfies RunSummary);
}
