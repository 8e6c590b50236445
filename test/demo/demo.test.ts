// `npm run demo` end to end: the demo runs its fleet of four host processes through every step and
// exits 0, leaving no host process and no temporary directory behind; interrupted with SIGINT (as
// soon as it has forked its hosts, to keep the test cheap), it kills its host processes, removes
// its directory and exits 130.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';
import { alive, runScript } from '../fixtures/run-script.js';

const DEMO = fileURLToPath(new URL('../../src/demo/demo.ts', import.meta.url));

/** The data directory and the host process ids the demo printed. */
function leftovers(output: string): { dir: string; pids: number[] } {
  const dir = /logs under (\S+)/.exec(output)?.[1] ?? '';
  const pids = [...output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  return { dir, pids };
}

describe('npm run demo', () => {
  it('runs every step and exits 0, leaving no process and no directory behind', { timeout: 90_000 }, async (t: TestContext) => {
    const run = await runScript(DEMO);
    assert.equal(run.code, 0, run.output);
    assert.match(run.output, /demo: PASS/);
    const { dir, pids } = leftovers(run.output);
    assert.notEqual(dir, '', 'the demo names its directory');
    assert.equal(existsSync(dir), false, `${dir} is removed`);
    assert.ok(pids.length >= 5, `4 host processes and a restart: ${pids.join(' ')}`);
    assert.deepEqual(pids.filter(alive), [], 'no host process is left running');
    t.diagnostic(/demo: PASS \(([^;]+);/.exec(run.output)?.[1] ?? '');
  });

  it('on SIGINT kills its host processes, removes its directory and exits 130', { timeout: 30_000 }, async () => {
    let sent = false;
    const run = await runScript(DEMO, [], (output, signal) => {
      if (!sent && leftovers(output).pids.length === 4) {
        sent = true;
        signal('SIGINT');
      }
    });
    assert.equal(run.code, 130, run.output);
    const { dir, pids } = leftovers(run.output);
    assert.equal(pids.length, 4, run.output);
    assert.deepEqual(pids.filter(alive), [], 'no host process is left running');
    assert.equal(existsSync(dir), false, `${dir} is removed`);
  });
});
