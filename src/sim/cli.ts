// npm run sim -- --seeds 1000                 seeds 1..1000, one summary line
// npm run sim -- --seed 42 --history out.jsonl one seed, its client history as JSON lines
// Options: --from N (first seed), --no-FAULT (e.g. --no-crash), --trace (print the trace of every run).

import { writeHistory } from '../check/history.js';
import { ALL_FAULTS, DEFAULT_SIM_OPTIONS, runRaftSim, type SimFaults, type SimResult } from './raft-sim.js';

function parse(argv: string[]) {
  const args = { seeds: 0, from: 1, seed: undefined as number | undefined, history: undefined as string | undefined, trace: false, faults: { ...ALL_FAULTS } };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--seeds') args.seeds = positiveInt(value(), a);
    else if (a === '--from') args.from = positiveInt(value(), a);
    else if (a === '--seed') args.seed = positiveInt(value(), a);
    else if (a === '--history') args.history = value();
    else if (a === '--trace') args.trace = true;
    else if (a.startsWith('--no-') && a.slice(5) in args.faults) args.faults[a.slice(5) as keyof SimFaults] = false;
    else throw new Error(`unknown option ${a}`);
  }
  return args;
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} takes a whole number, got ${v}`);
  return n;
}

function report(r: SimResult, trace: boolean): void {
  if (!r.ok) {
    console.log(`seed ${r.seed} FAILED: ${r.violations.join('; ')}`);
    console.log(r.trace.map((l) => `  ${l}`).join('\n'));
    console.log(`  replay: npm run sim -- --seed ${r.seed} --trace`);
  } else if (trace) {
    console.log(r.trace.join('\n'));
  }
}

function main(): number {
  const args = parse(process.argv.slice(2));
  const seeds = args.seed !== undefined ? [args.seed] : Array.from({ length: args.seeds || 100 }, (_, i) => args.from + i);
  let passed = 0;
  let failed = 0;
  let ops = 0;
  const started = Date.now();
  for (const seed of seeds) {
    const r = runRaftSim({ ...DEFAULT_SIM_OPTIONS, faults: args.faults, seed });
    ops += r.stats.ops;
    report(r, args.trace);
    if (args.history !== undefined) writeHistory(args.history, r.history);
    if (r.ok) passed++;
    else failed++;
    if (args.seed !== undefined) {
      console.log(`seed ${seed}: ${r.stats.ops} ops (${r.stats.okOps} ok), ${r.stats.elections} terms with a leader, ${r.stats.messages} messages`);
    }
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  console.log(`sim: ${passed} seeds passed, ${failed} failed (${ops} client ops checked, ${secs}s)`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main();
