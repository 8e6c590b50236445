// `npm run chaos`, short: 5 real host processes under 20 s of SIGKILLs and restarts, SIGSTOPs and
// SIGCONTs, deactivations and re-activations, and the stress faults (an oversized command and the
// largest allowed one, socket floods, CPU hogs), while 4 clients (the default is 6; npm test runs
// two test files at a time) command and query 24 groups. It must print `chaos: PASS` and exit 0
// (history linearizable per key, no acknowledged write missing, the fleet converged and every key
// readable afterwards, every check of the stress faults held, no host exited or stopped itself),
// having really done something: a minimum of successful operations and of injected faults, at
// least one kill among them, and every kind of stress fault. No host process and no temporary
// directory may be left behind.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { parseHistory } from '../../src/check/history.js';
import { alive, runScript } from '../fixtures/run-script.js';

const RUN = fileURLToPath(new URL('../../src/chaos/run.ts', import.meta.url));

/** The number after `label` in the summary (`  ok   1234`). */
function summaryNumber(output: string, label: string): number {
  const m = new RegExp(`^\\s+${label}\\s+(\\d+)`, 'm').exec(output);
  return m === null ? -1 : Number(m[1]);
}

describe('npm run chaos', () => {
  it('passes 20 s of kills, pauses, deactivations and stress faults of real host processes, with a checked history', { timeout: 150_000 }, async (t: TestContext) => {
    const tmp = mkdtempSync(join(tmpdir(), 'chaos-test-'));
    try {
      const historyPath = join(tmp, 'history.jsonl');
      // Seed 3 plans 9 faults in 20 s: 4 SIGSTOPs (2 past the failure timeout), 2 deactivations, 3
      // SIGKILLs, the first of a host while it drains (the other two may find it still restarting);
      // and 4 stress faults: two floods, 4 CPU hogs (on a 2-core machine, more than cores), an
      // oversized command followed by the largest allowed one.
      const run = await runScript(RUN, ['--duration', '20', '--seed', '3', '--clients', '4', '--history', historyPath]);
      assert.equal(run.code, 0, run.output);
      assert.match(run.output, /^chaos: PASS$/m);

      const ok = summaryNumber(run.output, 'ok');
      assert.ok(ok >= 200, `at least 200 successful operations, got ${ok}`);
      const faults = /faults injected\s+(\d+): kill (\d+), pause (\d+), deactivate (\d+)/.exec(run.output);
      assert.ok(faults !== null, run.output);
      assert.ok(Number(faults[1]) >= 5, `at least 5 faults injected: ${faults[0]}`);
      assert.ok(Number(faults[2]) >= 1, `at least one SIGKILL: ${faults[0]}`);
      const stress = /stress faults\s+\d+: oversize (\d+) \((\d+) with the largest allowed command\), flood (\d+), hog (\d+)/.exec(run.output);
      assert.ok(stress !== null, run.output);
      const [oversize, largest, flood, hog] = stress.slice(1).map(Number);
      assert.ok(oversize! >= 1 && largest! >= 1 && hog! >= 1, `an oversized command, the largest allowed one, a CPU hog: ${stress[0]}`);
      if (process.platform === 'linux') assert.ok(flood! >= 1, `a socket flood: ${stress[0]}`);

      // The history is the docs/TESTING.md format, keys group/key, with the final reads in it.
      const history = parseHistory(readFileSync(historyPath, 'utf8'));
      assert.ok(history.length >= ok);
      assert.ok(history.every((op) => /^(kv|ctr)-\d+\/(r|log|c)$/.test(op.key)));
      assert.ok(history.filter((op) => op.client > 1000 && op.op === 'get' && op.ok === true).length >= 36, 'a final read of every key');

      const dir = /logs under (\S+)/.exec(run.output)?.[1] ?? '';
      assert.notEqual(dir, '', 'it names its directory');
      assert.equal(existsSync(dir), false, `${dir} is removed after a pass`);
      const pids = [...run.output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
      assert.ok(pids.length >= 5);
      assert.deepEqual(pids.filter(alive), [], 'no process it started (hosts, flooders, hogs) is left running');
      t.diagnostic(run.output.split('\n').filter((l) => /^\s+(operations|ok|unknown|failed|faults injected|stress faults)/.test(l)).join(' | '));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('on SIGINT kills its host processes, removes its directory and exits 130', { timeout: 60_000 }, async () => {
    let sent = false;
    const run = await runScript(RUN, ['--duration', '20', '--seed', '1'], (output, signal) => {
      if (!sent && [...output.matchAll(/pid (\d+)/g)].length === 5) {
        sent = true;
        signal('SIGINT');
      }
    });
    assert.equal(run.code, 130, run.output);
    const pids = [...run.output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(pids.length, 5, run.output);
    assert.deepEqual(pids.filter(alive), [], 'no host process is left running');
    const dir = /logs under (\S+)/.exec(run.output)?.[1] ?? '';
    assert.notEqual(dir, '');
    assert.equal(existsSync(dir), false, `${dir} is removed`);
    assert.doesNotMatch(run.output, /chaos: (PASS|FAIL)/);
  });
});
