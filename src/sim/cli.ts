// npm run sim -- --seeds 1000                 seeds 1..1000, one summary line
// npm run sim -- --seed 42 --history out.jsonl one seed, its client history as JSON lines
// npm run sim -- --loop --seeds 500           the same, simulating the real host loop and group
//                                             runtime (loop-sim.ts) instead of bare Raft members
// npm run sim -- --fleet --seeds 200          the same, simulating whole fleet hosts (fleet-sim.ts:
//                                             Host objects, placement, deactivation, groups)
// Options: --from N (first seed), --no-FAULT (e.g. --no-crash), --trace (print the run's trace),
// --workers N (parallel runs; default: one per core). FLOTILLA_SIM_LOG=debug with --fleet --seed S
// also prints every host's own log (JSON lines on stderr, `vt` = virtual ms).

import { availableParallelism } from 'node:os';
import { writeHistory } from '../check/history.js';
import { ALL_FLEET_FAULTS } from './fleet-sim.js';
import type { RunSummary } from './kernel/sim-result.js';
import { ALL_LOOP_FAULTS } from './loop-sim.js';
import { runSimSeed, type SimMode } from './modes.js';
import { runSeedsParallel } from './parallel.js';
import { ALL_FAULTS } from './raft-sim.js';

interface SimArgs {
  seeds: number;
  from: number;
  seed: number | undefined;
  history: string | undefined;
  trace: boolean;
  workers: number;
  sim: SimMode;
}

function parse(argv: string[]): SimArgs {
  let seeds = 100;
  let from = 1;
  let seed: number | undefined;
  let history: string | undefined;
  let trace = false;
  let workers = availableParallelism();
  let loop = false;
  let fleet = false;
  const without: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') seeds = whole(value(), a);
    else if (a === '--from') from = whole(value(), a);
    else if (a === '--seed') seed = whole(value(), a);
    else if (a === '--history') history = value();
    else if (a === '--trace') trace = true;
    else if (a === '--workers') workers = Math.max(1, whole(value(), a));
    else if (a === '--loop') loop = true;
    else if (a === '--fleet') fleet = true;
    else if (a.startsWith('--no-')) without.push(a.slice(5));
    else throw new Error(`unknown option ${a} (see the top of src/sim/cli.ts)`);
  }
  // --no-FAULT is checked once the mode is known: each simulation has its own faults.
  if (loop && fleet) throw new Error('--loop and --fleet are two different simulations: choose one');
  const sim: SimMode = fleet
    ? { mode: 'fleet', faults: switchOff(ALL_FLEET_FAULTS, without) }
    : loop
      ? { mode: 'loop', faults: switchOff(ALL_LOOP_FAULTS, without) }
      : { mode: 'raft', faults: switchOff(ALL_FAULTS, without) };
  return { seeds, from, seed, history, trace, workers, sim };
}

/** A copy of `all` with the named faults off; an unknown name is an error that lists the known ones. */
function switchOff<F extends object>(all: F, names: readonly string[]): F {
  for (const name of names) {
    if (!(name in all)) throw new Error(`unknown option --no-${name}: the faults of this simulation are ${Object.keys(all).join(', ')}`);
  }
  return Object.fromEntries(Object.entries(all).map(([name, on]) => [name, on === true && !names.includes(name)])) as F;
}

function whole(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} takes a whole number, got ${v}`);
  return n;
}

function report(r: RunSummary, args: SimArgs): void {
  if (!r.ok) {
    console.log(`seed ${r.seed} FAILED: ${r.violations.join('; ')}`);
    console.log(r.trace.map((l) => `  ${l}`).join('\n'));
    console.log(`  replay: npm run sim -- ${args.sim.mode === 'raft' ? '' : `--${args.sim.mode} `}--seed ${r.seed} --trace`);
  } else if (args.trace) {
    console.log(r.trace.join('\n'));
  }
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
    report(r, args);
    if (r.ok) passed++;
    else failed++;
  };
  if (seeds.length === 1 || args.workers === 1 || args.history !== undefined) {
    for (const seed of seeds) {
      const r = await runSimSeed(seed, args.sim);
      onResult(r);
      if (args.history !== undefined) writeHistory(args.history, r.history);
      if (seeds.length === 1) {
        const s = r.stats;
        console.log(`seed ${seed}: ${s.ops} ops (${s.okOps} ok), ${s.elections} terms with a leader, ${s.messages} messages, ${s.virtualMs} virtual ms`);
      }
    }
  } else {
    await runSeedsParallel(seeds, args.sim, args.workers, onResult);
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
