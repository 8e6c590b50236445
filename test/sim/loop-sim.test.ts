// The deterministic simulation of the real host loop and group runtime (src/sim/loop-sim.ts) as part
// of the test suite: a few dozen seeds with every fault on, replay, and planted bugs that the checks
// must catch. `npm run sim -- --loop --seeds 1000` is the long run.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseHistory } from '../../src/check/history.js';
import type { KvStateMachine } from '../../src/sim/loop-kv.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { DEFAULT_LOOP_OPTIONS, runLoopSeed, runLoopSim, type LoopSimOptions } from '../../src/sim/loop-sim.js';
import type { SimResult } from '../../src/sim/kernel/sim-result.js';

const SEEDS = Number(process.env['LOOP_SIM_SEEDS'] ?? 30);
/** Shorter phases than the command line's, to keep the suite fast; every fault still has 2.5 s. */
const QUICK: Omit<LoopSimOptions, 'seed'> = { ...DEFAULT_LOOP_OPTIONS, faultMs: 2500, settleMs: 1500, checkMs: 1000 };

function explain(r: SimResult): string {
  return `seed ${r.seed}: ${r.violations.join('; ')}\n${r.trace.slice(-60).join('\n')}`;
}

test(`loop simulation: seeds 1..${SEEDS} with every fault keep every invariant and a linearizable history`, async () => {
  let ops = 0;
  for (let seed = 1; seed <= SEEDS; seed++) {
    const r = await runLoopSim({ ...QUICK, seed });
    assert.ok(r.ok, explain(r));
    assert.ok(r.stats.okOps > 200, `seed ${seed} completed only ${r.stats.okOps} operations`);
    ops += r.stats.ops;
  }
  assert.ok(ops > SEEDS * 300);
});

/** Seeds of the long run (the command line's phases) that found a bug, and the bug. */
const REGRESSIONS: Array<[number, string]> = [
  [9, 'without PreVote, a member whose log was behind kept restarting the election timers of those that could win, widened by their backoff: no leader for over 3 s'],
];

for (const [seed, bug] of REGRESSIONS) {
  test(`loop simulation regression seed ${seed}: ${bug}`, async () => {
    const r = await runLoopSeed(seed);
    assert.ok(r.ok, explain(r));
  });
}

test('loop simulation: a seed replays identically', async () => {
  const a = await runLoopSim({ ...QUICK, seed: 7 });
  const b = await runLoopSim({ ...QUICK, seed: 7 });
  assert.ok(a.ok, explain(a));
  assert.deepEqual(a.history, b.history);
  assert.deepEqual(a.trace, b.trace);
  assert.deepEqual(a.stats, b.stats);
});

/** The first replica of group 1 to start appends twice: its state and replies drift from the others'. */
function divergentReplica(): NonNullable<LoopSimOptions['wrapMachine']> {
  let faulty: string | undefined;
  return (host, groupId, machine) => {
    if (groupId !== 1) return machine;
    faulty ??= host;
    if (host !== faulty) return machine;
    return {
      ...machine,
      command(state, cmd) {
        if (cmd.input.op === 'append') machine.command(state, cmd);
        return machine.command(state, cmd);
      },
    };
  };
}

/** Every replica answers a query with what it answered the previous query of that key (a stale cache). */
const staleReads = (_host: string, _groupId: number, machine: KvStateMachine): KvStateMachine => {
  const cache = new Map<string, ReturnType<KvStateMachine['query']>>();
  return {
    ...machine,
    query(state, q) {
      const fresh = machine.query(state, q);
      const previous = cache.get(q.key);
      cache.set(q.key, fresh);
      return previous ?? fresh;
    },
  };
};

test('loop simulation: a replica that applies a command differently is caught (state machine safety)', async () => {
  for (const seed of [1, 2]) {
    const r = await runLoopSim({ ...QUICK, seed, wrapMachine: divergentReplica() });
    assert.equal(r.ok, false, `seed ${seed}: the planted divergence went unnoticed`);
    assert.match(r.violations.join('\n'), /state machine safety|convergence|state mismatch/);
  }
});

test('loop simulation: stale reads are caught (the history is not linearizable)', async () => {
  for (const seed of [1, 2]) {
    const r = await runLoopSim({ ...QUICK, seed, wrapMachine: staleReads });
    assert.equal(r.ok, false, `seed ${seed}: the planted stale reads went unnoticed`);
    assert.match(r.violations.join('\n'), /not linearizable/);
  }
});

test('loop simulation: a store that acknowledges writes before they are durable is caught', async () => {
  // Nothing is ever synced, so a crash loses every vote and entry the host acted on.
  const lying = (_host: string, store: LogStore): LogStore => ({
    open: () => store.open(),
    close: () => store.close(),
    newBatch: () => store.newBatch(),
    write: (batch) => store.write(batch, { sync: false }),
    groupIds: () => store.groupIds(),
    loadGroup: (groupId) => store.loadGroup(groupId),
    readEntries: (groupId, from, to, maxBytes) => store.readEntries(groupId, from, to, maxBytes),
    entries: (groupId, from, to) => store.entries(groupId, from, to),
    getMeta: (key) => store.getMeta(key),
    listMeta: (prefix) => store.listMeta(prefix),
  });
  // That breaks safety only where the lost votes or entries mattered, which is not every seed.
  let caught = 0;
  for (let seed = 1; seed <= 8 && caught < 2; seed++) {
    const r = await runLoopSim({ ...QUICK, seed, wrapStore: lying });
    if (!r.ok) caught++;
  }
  assert.equal(caught, 2, 'lost writes went unnoticed in 7 of 8 seeds');
});

test('npm run sim -- --loop --seed S --history F writes the client history as JSON lines', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-loop-sim-'));
  try {
    const file = join(dir, 'out.jsonl');
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/sim/cli.ts', '--loop', '--seed', '5', '--history', file], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
    assert.match(run.stdout, /^sim: 1 seeds passed, 0 failed/m);
    const ops = parseHistory(readFileSync(file, 'utf8'));
    assert.deepEqual(ops, (await runLoopSeed(5)).history);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
