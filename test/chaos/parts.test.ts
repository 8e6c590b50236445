// The pieces of `npm run chaos` that need no processes: the fault plan (a pure function of the
// seed, never more than MAX_OUT hosts out by its own estimate, every kind drawn) and the
// lost-write check over final reads (acknowledged appends and increments must be there, exactly
// once; unknown ones may be; definite failures and strangers must not).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlotillaError } from '../../src/errors.js';
import { seededRandom } from '../../src/raft/random.js';
import { FAULT_KINDS, MAX_OUT, planFaults } from '../../src/chaos/faults.js';
import { HISTORY_COUNTER, HISTORY_KV } from '../../src/chaos/machines.js';
import { Workload, type OpClient } from '../../src/chaos/workload.js';

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
