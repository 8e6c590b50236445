// The pieces of `npm run chaos`, without host processes: the fault plan (a pure function of the
// seed, never more than MAX_OUT hosts out by its own estimate, every kind drawn); the lost-write
// check over final reads (acknowledged appends and increments must be there, exactly once; unknown
// ones may be; definite failures and strangers must not); the stress faults' plan (every kind in
// a 20 s run, more hogs than cores at times), their commands of exact sizes, the oversize fault's
// checks against fake clients, the CPU hogs (they end, none left behind) and the flood process
// against a server that closes what it accepts.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { FlotillaError } from '../../src/common/errors.js';
import { seededRandom } from '../../src/raft/random.js';
import { FAULT_KINDS, MAX_OUT, planFaults } from '../../src/chaos/faults.js';
import { HISTORY_COUNTER, HISTORY_KV } from '../../src/demo/history-machines.js';
import { Workload, type OpClient } from '../../src/chaos/workload.js';
import { STRESS_KINDS, planStress, type PlannedStress } from '../../src/chaos/stress-plan.js';
import { BIG_GROUP, Stress, putOfSize, type StressDeps } from '../../src/chaos/stress.js';
import type { FloodCounts } from '../../src/chaos/flood-process.js';
import { fleetLimits } from '../../src/fleet/limits.js';

const HOSTS = ['h1', 'h2', 'h3', 'h4', 'h5'];

describe('chaos fault plan', () => {
  const plan = (seed: number) => planFaults(seededRandom(seed), { startMs: 2000, endMs: 300_000, hosts: HOSTS, minGapMs: 500, maxGapMs: 2500 });

  it('is a function of the seed', () => {
    assert.deepEqual(plan(5), plan(5));
    assert.notDeepEqual(plan(5), plan(6));
  });

  it('draws every kind, on every host, in time order within the window', () => {
    const p = plan(1);
    assert.ok(p.length > 50, `${p.length} faults over 300 s`);
    for (const k of FAULT_KINDS) assert.ok(p.some((f) => f.kind === k), k);
    for (const h of HOSTS) assert.ok(p.some((f) => f.host === h), h);
    for (let i = 1; i < p.length; i++) assert.ok(p[i]!.atMs > p[i - 1]!.atMs);
    assert.ok(p.every((f) => f.atMs >= 2000 && f.atMs < 300_000 && f.holdMs > 0));
  });

  it('never takes a third host out; only kills hit a host already out, and some do', () => {
    let killsOfOutHosts = 0;
    for (const seed of [1, 2, 3, 4]) {
      const p = plan(seed);
      for (const f of p) {
        // A fault keeps its host out from its start for at least its hold.
        const outNow = new Set(p.filter((g) => g !== f && g.atMs <= f.atMs && g.atMs + g.holdMs > f.atMs).map((g) => g.host));
        if (outNow.has(f.host)) {
          assert.equal(f.kind, 'kill', `seed ${seed}: a ${f.kind} of ${f.host}, which is out, at ${f.atMs}`);
          killsOfOutHosts++;
        } else assert.ok(outNow.size < MAX_OUT, `seed ${seed}: ${outNow.size + 1} out at ${f.atMs}`);
      }
    }
    assert.ok(killsOfOutHosts > 0);
  });
});

/** A client whose every call answers what `answer` says (a reply, or a thrown error). */
function fakeClient(answer: () => unknown): OpClient {
  const reply = async (): Promise<unknown> => {
    const r = answer();
    if (r instanceof Error) throw r;
    return { id: 0, output: r };
  };
  return { command: reply, query: reply };
}

describe('chaos lost-write check', () => {
  const groups = [
    { name: 'kv-01', machine: HISTORY_KV },
    { name: 'ctr-02', machine: HISTORY_COUNTER },
  ] as const;

  async function ledger(outcomes: Array<'ok' | 'unknown' | 'failed'>): Promise<Workload> {
    const w = new Workload({ groups, opTimeoutMs: 100, thinkMs: 0 });
    for (const [i, o] of outcomes.entries()) {
      const result = o === 'ok' ? 'x' : new FlotillaError(o === 'unknown' ? 'TIMEOUT' : 'UNAVAILABLE', 'no');
      await w.run(1, fakeClient(() => result), 'kv-01', { op: 'append', key: 'kv-01/log', value: `t${i};` });
      await w.run(1, fakeClient(() => (o === 'ok' ? 2 : result)), 'ctr-02', { op: 'incr', key: 'ctr-02/c', n: 2 });
    }
    return w;
  }

  it('passes when every acknowledged write is there once and only maybe-applied ones besides', async () => {
    const w = await ledger(['ok', 'unknown', 'failed', 'ok']);
    assert.deepEqual(w.missingWrites('kv-01/log', 't0;t3;'), []);
    assert.deepEqual(w.missingWrites('kv-01/log', 't0;t1;t3;'), []);
    assert.deepEqual(w.missingWrites('ctr-02/c', 4), []);
    assert.deepEqual(w.missingWrites('ctr-02/c', 6), []);
    assert.deepEqual(w.tally.byCode, new Map([['TIMEOUT', 2], ['UNAVAILABLE', 2]]));
    assert.equal(w.tally.ok, 4);
  });

  it('reports a missing acknowledged write, a duplicate, a failed one applied, a stranger, a counter out of bounds', async () => {
    const w = await ledger(['ok', 'unknown', 'failed', 'ok']);
    assert.match(w.missingWrites('kv-01/log', 't0;').join(), /acknowledged appends missing .* t3/);
    assert.match(w.missingWrites('kv-01/log', 't0;t3;t0;').join(), /t0 applied 2 times/);
    assert.match(w.missingWrites('kv-01/log', 't0;t2;t3;').join(), /t2, whose append failed definitely/);
    assert.match(w.missingWrites('kv-01/log', 't0;t3;zz;').join(), /zz, which no client appended/);
    assert.match(w.missingWrites('ctr-02/c', 2).join(), /below the 4 acknowledged/);
    assert.match(w.missingWrites('ctr-02/c', null).join(), /below the 4 acknowledged/);
    assert.match(w.missingWrites('ctr-02/c', 8).join(), /exceeds the acknowledged 4 plus the unknown 2/);
  });

  it('records BUSY as a definite failure and TIMEOUT as unknown', async () => {
    const w = new Workload({ groups, opTimeoutMs: 100, thinkMs: 0 });
    const busy = await w.run(1, fakeClient(() => new FlotillaError('BUSY', 'full')), 'kv-01', { op: 'put', key: 'kv-01/r', value: 'v' });
    const timeout = await w.run(1, fakeClient(() => new FlotillaError('TIMEOUT', 'late')), 'kv-01', { op: 'put', key: 'kv-01/r', value: 'w' });
    assert.deepEqual([busy.outcome, timeout.outcome], ['failed', 'unknown']);
    assert.deepEqual(
      w.history().map((op) => op.ok),
      [false, 'unknown'],
    );
  });
});

describe('chaos stress plan', () => {
  const plan = (seed: number, endMs = 300_000) => planStress(seededRandom(seed), { startMs: 2000, endMs, hosts: HOSTS, cores: 2 });

  it('is a function of the seed, in time order within the window', () => {
    assert.deepEqual(plan(5), plan(5));
    assert.notDeepEqual(plan(5), plan(6));
    const p = plan(1);
    for (let i = 1; i < p.length; i++) assert.ok(p[i]!.atMs > p[i - 1]!.atMs);
    assert.ok(p.every((f) => f.atMs >= 2000 && f.atMs < 300_000 && HOSTS.includes(f.host)));
  });

  it('has every kind in the 20 s run of the chaos test (window 2-18 s), for any seed', () => {
    for (let seed = 0; seed < 200; seed++) {
      const p = plan(seed, 18_000);
      assert.deepEqual(new Set(p.slice(0, 3).map((f) => f.kind)), new Set(STRESS_KINDS), `seed ${seed}`);
    }
  });

  it('draws floods of many sockets, hogs from 1 to cores + 2, the largest command every other oversize', () => {
    const p = plan(1);
    const of = (kind: PlannedStress['kind']) => p.filter((f) => f.kind === kind);
    assert.ok(of('flood').every((f) => f.count >= 100 && f.count <= 400 && f.holdMs >= 2000 && f.holdMs < 5000));
    assert.ok(of('hog').every((f) => f.count >= 1 && f.count <= 4 && f.holdMs >= 1500 && f.holdMs < 4000));
    assert.ok(of('hog').some((f) => f.count > 2), 'more hogs than cores at times');
    assert.deepEqual(of('oversize').map((f) => f.largest), of('oversize').map((_, i) => i % 2 === 0));
  });
});

describe('chaos stress faults', () => {
  const { maxCommandBytes } = fleetLimits(4 * 1024 * 1024);

  it('builds commands of exactly the size asked', () => {
    for (const bytes of [100, maxCommandBytes, maxCommandBytes + 1]) {
      assert.equal(Buffer.byteLength(JSON.stringify(putOfSize('big/blob', 'tok:', bytes))), bytes);
    }
  });

  /** A Stress whose client is `client` and whose hosts are none (so every command goes through the client). */
  function stressWith(client: OpClient, hold: (ms: number) => Promise<void> = () => Promise.resolve()): { stress: Stress; violations: string[] } {
    const violations: string[] = [];
    const deps: StressDeps = {
      hostIds: [],
      host: () => assert.fail('no host'),
      up: () => false,
      answering: () => false,
      address: () => assert.fail('no host'),
      secret: 's',
      client: () => client,
      hold,
      say: () => undefined,
      violate: (what) => violations.push(what),
    };
    return { stress: new Stress(deps), violations };
  }

  /** A client holding a kv store: it refuses commands over `limit` bytes as the router does, or accepts everything. */
  function kvClient(limit: number, reads: (v: string | undefined) => unknown = (v) => v ?? null): OpClient {
    const store = new Map<string, string>();
    return {
      command: async (group, cmd) => {
        assert.equal(group, BIG_GROUP.name);
        const bytes = Buffer.byteLength(JSON.stringify(cmd));
        if (bytes > limit) throw new FlotillaError('BAD_ARGUMENT', `the command is ${bytes} bytes, more than maxCommandBytes (${maxCommandBytes} bytes)`);
        const { input } = cmd as ReturnType<typeof putOfSize>;
        store.set(input.key, input.value);
        return { id: 0, output: null };
      },
      query: async (_group, q) => ({ id: 0, output: reads(store.get((q as { key: string }).key)) }),
    };
  }

  const oversize: PlannedStress = { atMs: 0, kind: 'oversize', holdMs: 0, count: 1, largest: true, host: 'h1' };

  it('passes an oversized command refused BAD_ARGUMENT and a largest one committed and read back', async () => {
    const { stress, violations } = stressWith(kvClient(maxCommandBytes));
    await stress.inject(oversize);
    assert.deepEqual(violations, []);
    assert.deepEqual([stress.counts.oversize, stress.counts.largest], [1, 1]);
  });

  it('reports an oversized command accepted, the largest refused, or read back wrong', async () => {
    const accepting = stressWith(kvClient(Infinity));
    await accepting.stress.inject(oversize);
    assert.match(accepting.violations.join('\n'), new RegExp(`a command of ${maxCommandBytes + 1} bytes, over maxCommandBytes, was accepted`));

    const strict = stressWith(kvClient(maxCommandBytes - 1));
    await strict.stress.inject(oversize);
    assert.match(strict.violations.join('\n'), /the largest allowed command \(\d+ bytes\) did not commit: the command is/);
    assert.equal(strict.stress.counts.largest, 0);

    const lossy = stressWith(kvClient(maxCommandBytes, (v) => v?.slice(1)));
    await lossy.stress.inject(oversize);
    assert.match(lossy.violations.join('\n'), /the largest command committed, but big\/blob reads back/);
  });

  it('runs CPU hogs for their hold and leaves none behind', async () => {
    let duringHold: boolean[] = [];
    const children = (s: Stress) => (s as unknown as { children: Set<ChildProcess> }).children;
    const { stress, violations } = stressWith(kvClient(maxCommandBytes), async (ms) => {
      // Half-way: a hog ends by itself no sooner than its hold after it was spawned.
      await new Promise((resolve) => setTimeout(resolve, ms / 2));
      duringHold = [...children(stress)].map((c) => c.exitCode === null && c.signalCode === null);
      await new Promise((resolve) => setTimeout(resolve, ms / 2));
    });
    await stress.inject({ atMs: 0, kind: 'hog', holdMs: 300, count: 3, largest: false, host: 'h1' });
    assert.deepEqual(violations, []);
    assert.deepEqual(duringHold, [true, true, true], 'three hogs ran through the hold');
    assert.deepEqual([stress.counts.hog, stress.counts.maxHogs], [1, 3]);
    assert.equal(children(stress).size, 0);
  });

  it('floods from two loopback addresses and sees the sockets a server closes', { skip: process.platform !== 'linux' && '127.0.0.2 is loopback on Linux only' }, async () => {
    const from = new Set<string>();
    const server = createServer((socket: Socket) => {
      from.add(socket.remoteAddress ?? '');
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const flooder = fork(fileURLToPath(new URL('../../src/chaos/flood-process.ts', import.meta.url)), [`127.0.0.1:${port}`, '20', '127.0.0.2,127.0.0.3'], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    try {
      const counts = await new Promise<FloodCounts>((resolve) => {
        flooder.on('message', (m) => {
          const c = m as FloodCounts;
          if (c.closedByHost > 20) resolve(c);
        });
      });
      assert.ok(counts.opened > 20, 'reopens what the server closes');
      assert.deepEqual([...from].sort(), ['127.0.0.2', '127.0.0.3']);
    } finally {
      flooder.kill('SIGKILL');
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
