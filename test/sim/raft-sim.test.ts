// The deterministic simulation as part of the test suite: a few hundred seeds with every fault on,
// plus the seeds that once found bugs. `npm run sim -- --seeds 5000` is the long run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseHistory } from '../../src/check/history.js';
import { ALL_FAULTS, runSeed } from '../../src/sim/raft-sim.js';
import type { SimResult } from '../../src/sim/kernel/sim-result.js';

const SEEDS = Number(process.env['SIM_SEEDS'] ?? 200);

function explain(r: SimResult): string {
  return `seed ${r.seed}: ${r.violations.join('; ')}\n${r.trace.slice(-60).join('\n')}`;
}

/**
 * Seeds that found bugs, kept so the bugs stay fixed. A seed replays the same run only while the
 * simulation itself is unchanged, so each also names the bug for whoever re-finds it.
 */
const REGRESSIONS: Array<[number, string]> = [
  [5, 'a removed member without PreVote deposed every new leader (vote lease tied to CheckQuorum)'],
  [9, 'a re-added member with a wiped disk and its old id let a stale candidate win'],
  [5249, "the simulation let a stale leader wipe a host's member that a newer configuration made a voter"],
];

for (const [seed, bug] of REGRESSIONS) {
  test(`simulation regression seed ${seed}: ${bug}`, () => {
    // As found: before quiescence existed.
    const r = runSeed(seed, { ...ALL_FAULTS, quiesce: false });
    assert.ok(r.ok, explain(r));
  });
}

test(`simulation: seeds 1..${SEEDS} with every fault keep every invariant and a linearizable history`, () => {
  let ops = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = runSeed(seed);
    assert.ok(r.ok, explain(r));
    assert.ok(r.stats.okOps > 50, `seed ${seed} completed only ${r.stats.okOps} operations`);
    ops += r.stats.ops;
  }
  assert.ok(ops > SEEDS * 100);
});

test('simulation: a seed replays identically', () => {
  const a = runSeed(77);
  const b = runSeed(77);
  assert.deepEqual(a.history, b.history);
  assert.deepEqual(a.trace, b.trace);
});

test('npm run sim -- --seed S --history F writes the client history as JSON lines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-sim-'));
  try {
    const file = join(dir, 'out.jsonl');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/sim/cli.ts', '--seed', '42', '--history', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^sim: 1 seeds passed, 0 failed/m);
    const ops = parseHistory(readFileSync(file, 'utf8'));
    assert.deepEqual(ops, runSeed(42).history);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
