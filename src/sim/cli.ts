// npm run sim -- --seeds 1000                 seeds 1..1000, one summary line
// npm run sim -- --seed 42 --history out.jsonl one seed, its client history as JSON lines
// Options: --from N (first seed), --no-FAULT (e.g. --no-crash), --trace (print the run's trace),
// --workers N (parallel runs; default: one per core).

import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { writeHistory } from '../check/history.js';
import { ALL_FAULTS, runSeed, type RunSummary, type SimFaults } from './raft-sim.js';

interface SimArgs {
  seeds: number;
  from: number;
  seed: number | undefined;
  history: string | undefined;
  trace: boolean;
  workers: number;
  faults: SimFaults;
}

function parse(argv: string[]): SimArgs {
  const args: SimArgs = { seeds: 100, from: 1, seed: undefined, history: undefined, trace: false, workers: availableParallelism(), faults: { ...ALL_FAULTS } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') args.seeds = whole(value(), a);
    else if (a === '--from') args.from = whole(value(), a);
    else if (a === '--seed') args.seed = whole(value(), a);
    else if (a === '--history') args.history = value();
    else if (a === '--trace') args.trace = true;
    else if (a === '--workers') args.workers = Math.max(1, whole(value(), a));
    else if (a.startsWith('--no-') && a.slice(5) in args.faults) args.faults[a.slice(5) as keyof SimFaults] = false;
    else throw new Error(`unknown option ${a} (see the top of src/sim/cli.ts)`);
  }
  return args;
}

function whole(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} takes a whole number, got ${v}`);
  return n;
}

function report(r: RunSummary, trace: boolean): void {
  if (!r.ok) {
    console.log(`seed ${r.seed} FAILED: ${r.violations.join('; ')}`);
    console.log(r.trace.map((l) => `  ${l}`).join('\n'));
    console.log(`  replay: npm run sim -- --seed ${r.seed} --trace`);
  } else if (trace) {
    console.log(r.trace.join('\n'));
  }
}

// Node 20 workers do not inherit the tsx loader: each registers it, then loads the TypeScript worker.
const TS_WORKER = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(
  new URL('./sim-worker.ts', import.meta.url).href,
)}); })`;

/** Runs seeds on `workers` threads, each taking every workers-th seed. */
async function runParallel(seeds: number[], args: SimArgs, onResult: (r: RunSummary) => void): Promise<void> {
  const workers = Math.min(args.workers, seeds.length);
  await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const mine = seeds.filter((_, i) => i % workers === w);
      const worker = new Worker(TS_WORKER, { eval: true, workerData: { seeds: mine, faults: args.faults } });
      worker.on('message', onResult);
      return new Promise<void>((resolve, reject) => {
        worker.on('error', reject);
        worker.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`sim worker exited with ${code}`))));
      });
    }),
  );
}

async function main(): Promise<number> {
  const args = parse(process.argv.slice(2));
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds }, (_, i) => args.from + i);
  let passed = 0;
  let failed = 0;
  let ops = 0;
  const started = Date.now();
  const onResult = (r: RunSummary) => {
    ops += r.stats.ops;
    report(r, args.trace);
    if (r.ok) passed++;
    else failed++;
  };
  if (seeds.length === 1 || args.workers === 1 || args.history !== undefined) {
    for (const seed of seeds) {
      const r = runSeed(seed, args.faults);
      onResult(r);
      if (args.history !== undefined) writeHistory(args.history, r.history);
      if (seeds.length === 1) {
        const s = r.stats;
        console.log(`seed ${seed}: ${s.ops} ops (${s.okOps} ok), ${s.elections} terms with a leader, ${s.messages} messages, ${s.virtualMs} virtual ms`);
      }
    }
  } else {
    await runParallel(seeds, args, onResult);
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`sim: ${passed} seeds passed, ${failed} failed (${ops} client ops checked, ${secs}s)`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 2;
  },
);
