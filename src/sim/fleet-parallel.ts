// Fleet simulation seeds on worker threads: one run needs one core for its seconds of CPU, so the
// test suite spreads its seeds over the cores it has.

import { Worker } from 'node:worker_threads';
import type { FleetFaults } from './fleet-sim.js';
import type { RunSummary } from './raft-sim.js';

// Node 20 workers do not inherit the tsx loader: each registers it, then loads the TypeScript worker.
const TS_WORKER = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
  new URL('./fleet-worker.ts', import.meta.url).href,
)}); })`;

/** Runs `seeds` on `workers` threads, each taking every workers-th seed; summaries in seed order. */
export async function runFleetSeedsParallel(seeds: readonly number[], faults: FleetFaults, workers: number): Promise<RunSummary[]> {
  const results: RunSummary[] = [];
  const count = Math.max(1, Math.min(workers, seeds.length));
  await Promise.all(
    Array.from({ length: count }, (_, w) => {
      const worker = new Worker(TS_WORKER, { eval: true, workerData: { seeds: seeds.filter((_, i) => i % count === w), faults } });
      worker.on('message', (r: RunSummary) => results.push(r));
      return new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`fleet sim worker exited with ${code}`))));
      });
    }),
  );
  return results.sort((a, b) => a.seed - b.seed);
}
