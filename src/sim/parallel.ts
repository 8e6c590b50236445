// Simulation seeds on worker threads (sim-worker.ts): a run needs one core for its CPU time, so
// `npm run sim` and the test suite spread their seeds over the cores.

import { Worker } from 'node:worker_threads';
import type { RunSummary } from './kernel/sim-result.js';
import type { SimMode } from './modes.js';

// Node 20 workers do not inherit the tsx loader: each registers it, then loads the TypeScript worker.
const TS_WORKER = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
  new URL('./sim-worker.ts', import.meta.url).href,
)}); })`;

/**
 * Runs `seeds` on `workers` threads, each taking every workers-th seed. `onResult` sees each
 * summary as it arrives; the promise gives them all in seed order.
 */
export async function runSeedsParallel(seeds: readonly number[], sim: SimMode, workers: number, onResult: (r: RunSummary) => void = () => undefined): Promise<RunSummary[]> {
  const results: RunSummary[] = [];
  const count = Math.max(1, Math.min(workers, seeds.length));
  await Promise.all(
    Array.from({ length: count }, (_, w) => {
      const worker = new Worker(TS_WORKER, { eval: true, workerData: { seeds: seeds.filter((_, i) => i % count === w), sim } });
      worker.on('message', (r: RunSummary) => {
        results.push(r);
        onResult(r);
      });
      return new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sim worker exited with ${code}`))));
      });
    }),
  );
  return results.sort((a, b) => a.seed - b.seed);
}
