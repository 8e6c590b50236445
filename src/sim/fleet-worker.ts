// A worker thread running fleet simulation seeds (see fleet-parallel.ts): posts each run's summary.

import { parentPort, workerData } from 'node:worker_threads';
import { runFleetSeed, type FleetFaults } from './fleet-sim.js';
import type { RunSummary } from './raft-sim.js';

const { seeds, faults } = workerData as { seeds: number[]; faults: FleetFaults };
for (const seed of seeds) {
  // One seed at a time: a run owns the event loop while it lasts.
  const { history: _history, ...summary } = await runFleetSeed(seed, faults);
  parentPort!.postMessage(summary satisfies RunSummary);
}
