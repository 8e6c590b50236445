// `npm run demo` end to end: the demo runs its fleet of four host processes through every step and
// exits 0, leaving no host process and no temporary directory behind; interrupted with SIGINT (as
// soon as it has forked its hosts, to keep the test cheap), it kills its host processes, removes
// its directory and exits 130.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it, type TestContext } from 'node:test';

const DEMO = fileURLToPath(new URL('../../src/demo/demo.ts', import.meta.url));

interface Run {
  code: number | null;
  output: string;
}

/** Runs the demo; `onOutput` sees the output so far after each chunk and may signal the process. */
function runDemo(onOutput: (output: string, signal: (s: NodeJS.Signals) => void) => void = () => undefined): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', DEMO], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      onOutput(output, (s) => child.kill(s));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** The data directory and the host process ids the demo printed. */
function leftovers(output: string): { dir: string; pids: number[] } {
  const dir = /logs under (\S+)/.exec(output)?.[1] ?? '';
  const pids = [...output.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  return { dir, pids };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', () => {
  it('runs every step and exits 0, leaving no process and no directory behind', { timeout: 90_000 }, async (t: TestContext) => {
    const run = await runDemo();
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
    const run = await runDemo((output, signal) => {
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
