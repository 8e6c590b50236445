// Issue 14, finding 5, on real host processes (RocksDB, ws, src/demo/host-process.ts): a copy of
// h2's data directory is taken while h2 runs (SIGSTOP, copy, SIGCONT: a VM snapshot), W0b is
// written, h3 is killed -9, W1 (200 increments) is acknowledged by h1 and h2, h1 and h2 are killed
// -9, the copy is put back as h2's directory, and h2 and h3 start. Without the generation check they
// elect a leader without W1 and every W1 is lost. With it: h3 refuses h2, h2's activate fails with
// STORAGE_STALE (and its log says why), the group elects nobody while h1 is down, a second start
// on the copy exits at once with STORAGE_STALE, and once h1 is back every W1 is there.
import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { HostCallError, HostProcess } from '../../src/demo/host-client.js';
import type { HostOp, HostRequests, HostResults } from '../../src/demo/host-process.js';
import { decodeGeneration } from '../../src/storage/encoding.js';
import { openLogStore } from '../../src/storage/open-store.js';

const SECRET = 'stale data directory test secret';
const ZONES: Record<string, string> = { h1: 'zone-a', h2: 'zone-b', h3: 'zone-a' };
const GROUP = 'counter-s';
const W1 = 200;
/** How long any one phase may take: generous, a loaded machine (other test files at once) is slow. */
const PHASE_MS = 60_000;

function call<K extends HostOp>(h: HostProcess, op: K, args: HostRequests[K], timeoutMs = PHASE_MS): Promise<HostResults[K]> {
  return h.call(op, args, timeoutMs);
}

async function increment(h: HostProcess): Promise<void> {
  await call(h, 'command', { name: GROUP, cmd: { op: 'incr' }, timeoutMs: 15_000 });
}

async function wait(what: string, condition: () => Promise<boolean>, timeoutMs = PHASE_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The generation a (stopped) copy of a data directory holds. */
async function generationIn(dir: string): Promise<number> {
  const store = await openLogStore({ engine: 'rocksdb', dir });
  try {
    const bytes = await store.getMeta('generation');
    return bytes === undefined ? 0 : decodeGeneration(bytes);
  } finally {
    await store.close();
  }
}

/** What `h` has durably recorded of `peer`'s generation. */
async function recorded(h: HostProcess, peer: string): Promise<number> {
  return (await call(h, 'status', {})).generation.peers[peer] ?? 0;
}

describe('a data directory put back from a copy, on real processes', () => {
  const fleet = new Map<string, HostProcess>();
  let root: string | undefined;
  let passed = false;

  after(async () => {
    await Promise.all([...fleet.values()].map((h) => h.kill()));
    if (root === undefined) return;
    if (passed) await rm(root, { recursive: true, force: true });
    else console.log(`stale data directory test failed: data directories and logs kept in ${root}`);
  });

  it('is refused with STORAGE_STALE, and every acknowledged write survives', { timeout: 300_000 }, async (t: TestContext) => {
    const dir = await mkdtemp(join(tmpdir(), 'flotilla-stale-'));
    root = dir;
    const ports = new Map<string, number>();
    const spawn = (id: string, seeds: string[]): HostProcess => {
      const h = HostProcess.spawn({
        id,
        port: ports.get(id) ?? 0,
        dataDir: join(dir, id),
        logFile: join(dir, `${id}.log`),
        secret: SECRET,
        join: seeds,
        tickMs: 50,
        hostFailureTimeoutMs: 3000,
      });
      fleet.set(id, h); // before it is up, so the after hook kills it whatever happens
      return h;
    };
    const start = async (id: string, seeds: string[]): Promise<HostProcess> => {
      const h = spawn(id, seeds);
      await h.started(PHASE_MS);
      ports.set(id, h.port);
      return h;
    };
    const kill = async (id: string): Promise<void> => {
      await fleet.get(id)?.kill();
      fleet.delete(id);
    };

    const h1 = await start('h1', []);
    await call(h1, 'activate', { zone: ZONES.h1! });
    const seeds = [`h1@127.0.0.1:${h1.port}`];
    const h2 = await start('h2', seeds);
    const h3 = await start('h3', seeds);
    await Promise.all([call(h2, 'activate', { zone: ZONES.h2! }), call(h3, 'activate', { zone: ZONES.h3! })]);
    await call(h1, 'addGroup', { name: GROUP, machine: 'counter', replicas: 3 });
    await increment(h1);
    await wait('h3 to record h2 advancing its generation', async () => (await recorded(h3, 'h2')) > 0);

    // A VM snapshot of h2's disk while it runs.
    const copy = join(dir, 'h2-copy');
    h2.pause();
    try {
      await cp(join(dir, 'h2'), copy, { recursive: true });
    } finally {
      h2.resume();
    }
    const copied = await generationIn(copy);
    t.diagnostic(`copied h2's data directory at generation ${copied}`);

    await increment(h1); // W0b
    await wait(`h3 to record a generation of h2 above the copy's ${copied}`, async () => (await recorded(h3, 'h2')) > copied);
    await kill('h3');
    for (let i = 0; i < W1; i++) await increment(h1);
    const expected = 2 + W1;
    await kill('h1');
    await kill('h2');

    await rm(join(dir, 'h2'), { recursive: true, force: true });
    await rename(copy, join(dir, 'h2'));
    const restored = await start('h2', seeds);
    const lagging = await start('h3', seeds);
    await assert.rejects(call(restored, 'activate', { zone: ZONES.h2! }), (err) => {
      assert.ok(err instanceof HostCallError && err.code === 'STORAGE_STALE', String(err));
      assert.match(err.message, /host h3 heard it at generation \d+/);
      assert.match(err.message, /new host id/);
      return true;
    });
    assert.match(await readFile(join(dir, 'h2.log'), 'utf8'), /refused as stale/);
    assert.match(await readFile(join(dir, 'h3.log'), 'utf8'), /refusing host h2/);

    // h3 alone (its replicas run from the start, activated or not) elects nobody: no state without W1 is served.
    const sightings: string[] = [];
    const until = performance.now() + 2000;
    while (performance.now() < until) {
      for (const m of (await call(lagging, 'status', {})).members) if (m.group === GROUP && m.leader !== '') sightings.push(`${m.member} follows ${m.leader}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(sightings, []);

    // A second start on the copy exits at once, saying why.
    await kill('h2');
    const again = spawn('h2', seeds);
    await assert.rejects(again.started(PHASE_MS), (err) => err instanceof HostCallError && err.code === 'EXITED');
    assert.match((await again.tail()).join('\n'), /STORAGE_STALE|older than the fleet has seen/);
    fleet.delete('h2');

    const back = await start('h1', []);
    await call(back, 'activate', { zone: ZONES.h1! });
    await call(lagging, 'activate', { zone: ZONES.h3! });
    const count = async (h: HostProcess) => Number(await call(h, 'query', { name: GROUP, q: { op: 'get' }, consistency: 'linearizable' }));
    assert.equal(await count(back), expected, 'every acknowledged increment is there');
    assert.equal(await count(lagging), expected);
    passed = true;
  });
});
