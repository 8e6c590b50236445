import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLinearizability, type CheckResult } from '../../src/check/linearizability.js';
import { stepKv, type KvValue } from '../../src/check/kv-model.js';
import type { HistoryOp, OpInput, Output } from '../../src/check/history.js';
import { isFlotillaError } from '../../src/common/errors.js';
import { seededRandom as mulberry32 } from '../../src/raft/random.js';

// Builders: an input, then how it went. Times are small integers standing for nanoseconds.
const put = (key: string, value: string): OpInput => ({ op: 'put', key, value });
const get = (key: string): OpInput => ({ op: 'get', key });
const append = (key: string, value: string): OpInput => ({ op: 'append', key, value });
const cas = (key: string, expected: string | null, value: string): OpInput => ({ op: 'cas', key, expected, value });
const incr = (key: string, n: number): OpInput => ({ op: 'incr', key, n });
const reset = (key: string): OpInput => ({ op: 'reset', key });

function ok(client: number, input: OpInput, output: Output, call: number, ret: number): HistoryOp {
  return { client, ...input, output, call, return: ret, ok: true };
}
function failed(client: number, input: OpInput, call: number, ret: number): HistoryOp {
  return { client, ...input, call, return: ret, ok: false };
}
function timedOut(client: number, input: OpInput, call: number): HistoryOp {
  return { client, ...input, call, ok: 'unknown' };
}

function assertLinearizable(history: HistoryOp[]): void {
  const result = checkLinearizability(history);
  assert.deepEqual(result, { ok: true }, result.ok === false ? result.explanation : undefined);
}

function assertNotLinearizable(history: HistoryOp[]): Extract<CheckResult, { ok: false }> {
  const result = checkLinearizability(history);
  assert.equal(result.ok, false, `expected a violation, got ${JSON.stringify(result)}`);
  assert.ok(result.ok === false);
  return result;
}

describe('linearizable histories', () => {
  test('an empty history is linearizable', () => {
    assertLinearizable([]);
  });

  test('a get concurrent with a put may read the old value or the new one', () => {
    const before = ok(1, put('x', 'a'), null, 0, 10);
    const write = ok(1, put('x', 'b'), null, 20, 40);
    assertLinearizable([before, write, ok(2, get('x'), 'a', 25, 30)]);
    assertLinearizable([before, write, ok(2, get('x'), 'b', 25, 30)]);
  });

  test('overlapping gets may see a concurrent put in either order of their calls', () => {
    // The later-called get reads the old value: fine, its interval allows an earlier point.
    assertLinearizable([
      ok(1, put('x', 'new'), null, 0, 100),
      ok(2, get('x'), 'new', 10, 20),
      ok(3, get('x'), null, 5, 30),
    ]);
  });

  test('a get of a key never written reads null', () => {
    assertLinearizable([ok(1, get('x'), null, 0, 1), ok(1, put('x', 'a'), null, 2, 3), ok(1, get('x'), 'a', 4, 5)]);
  });

  test('concurrent increments can be ordered to match their replies', () => {
    assertLinearizable([
      ok(1, incr('c', 1), 2, 0, 10),
      ok(2, incr('c', 1), 1, 1, 11),
      ok(3, incr('c', 5), 7, 2, 12),
      ok(4, get('c'), 7, 13, 14),
      ok(4, get('c'), '7', 15, 16),
    ]);
  });

  test('reset sets a counter back to 0', () => {
    assertLinearizable([
      ok(1, incr('c', 3), 3, 0, 1),
      ok(1, reset('c'), null, 2, 3),
      ok(2, incr('c', 1), 1, 4, 5),
    ]);
  });

  test('of two concurrent cas from the same expected value, one succeeds and one fails', () => {
    assertLinearizable([
      ok(1, put('x', 'a'), null, 0, 1),
      ok(2, cas('x', 'a', 'b'), false, 2, 10),
      ok(3, cas('x', 'a', 'c'), true, 3, 9),
      ok(4, get('x'), 'c', 11, 12),
    ]);
  });

  test('cas with expected null succeeds only on an absent key', () => {
    assertLinearizable([
      ok(1, cas('x', null, 'a'), true, 0, 5),
      ok(2, cas('x', null, 'b'), false, 1, 6),
      ok(1, get('x'), 'a', 7, 8),
    ]);
  });

  test('concurrent appends take effect in some single order that every read agrees on', () => {
    assertLinearizable([
      ok(1, append('s', 'a'), 'ba', 0, 10),
      ok(2, append('s', 'b'), null, 1, 11),
      ok(3, get('s'), 'b', 2, 12),
      ok(3, get('s'), 'ba', 13, 14),
    ]);
  });

  test('a failed operation is dropped: it never took effect', () => {
    assertLinearizable([
      ok(1, put('x', 'a'), null, 0, 1),
      failed(2, put('x', 'b'), 2, 3),
      ok(1, get('x'), 'a', 4, 5),
    ]);
  });

  test('keys are independent: each key only needs a linearization of its own', () => {
    // x's write is only visible after y's, and y's only after x's: fine, since keys are separate objects.
    assertLinearizable([
      ok(1, put('x', '1'), null, 0, 10),
      ok(2, put('y', '1'), null, 0, 10),
      ok(3, get('x'), null, 1, 2),
      ok(3, get('y'), '1', 3, 4),
      ok(4, get('y'), null, 1, 2),
      ok(4, get('x'), '1', 3, 4),
    ]);
  });

  test('an operation returning exactly when another is called counts as concurrent with it', () => {
    assertLinearizable([ok(1, put('x', 'a'), null, 0, 10), ok(2, get('x'), null, 10, 20)]);
  });
});

describe('non-linearizable histories', () => {
  test('a read after a write completed must not return the older value (stale read)', () => {
    const result = assertNotLinearizable([
      ok(1, put('x', 'a'), null, 0, 10),
      ok(1, put('x', 'b'), null, 20, 30),
      ok(2, get('x'), 'a', 40, 50),
    ]);
    assert.equal(result.key, 'x');
    assert.deepEqual(result.linearized, [0, 1]);
    assert.deepEqual(result.blocked, [2]);
  });

  test('an increment is never lost', () => {
    assertNotLinearizable([ok(1, incr('c', 1), 1, 0, 10), ok(2, incr('c', 1), 1, 20, 30)]);
    assertNotLinearizable([
      ok(1, incr('c', 1), null, 0, 10),
      ok(2, incr('c', 1), null, 5, 15),
      ok(3, get('c'), 1, 20, 30),
    ]);
  });

  test('a read must return a value that was written', () => {
    const result = assertNotLinearizable([
      ok(1, put('x', 'a'), null, 0, 10),
      ok(2, put('x', 'b'), null, 0, 10),
      ok(3, get('x'), 'c', 5, 15),
    ]);
    assert.deepEqual(result.blocked.sort(), [2]);
  });

  test('two cas from the same expected value cannot both succeed', () => {
    assertNotLinearizable([
      ok(1, put('x', 'a'), null, 0, 1),
      ok(2, cas('x', 'a', 'b'), true, 2, 10),
      ok(3, cas('x', 'a', 'c'), true, 3, 9),
    ]);
  });

  test('a read cannot go back to an older value once a later read saw the newer one', () => {
    assertNotLinearizable([
      ok(1, put('x', 'a'), null, 0, 1),
      ok(1, put('x', 'b'), null, 2, 100),
      ok(2, get('x'), 'b', 10, 20),
      ok(3, get('x'), 'a', 30, 40),
    ]);
  });

  test('a failed operation must not be visible', () => {
    assertNotLinearizable([failed(1, put('x', 'a'), 0, 10), ok(2, get('x'), 'a', 5, 15)]);
  });

  test('an append reply must include every append completed before it', () => {
    assertNotLinearizable([ok(1, append('s', 'a'), 'a', 0, 10), ok(2, append('s', 'b'), 'b', 20, 30)]);
  });

  test('a cas that saw the expected value must not fail', () => {
    assertNotLinearizable([ok(1, put('x', 'a'), null, 0, 1), ok(2, cas('x', 'a', 'b'), false, 2, 3)]);
  });

  test('the first key that fails is reported, even after keys that pass', () => {
    const result = assertNotLinearizable([
      ok(1, put('fine', 'a'), null, 0, 1),
      ok(1, get('fine'), 'a', 2, 3),
      ok(1, put('bad', 'a'), null, 4, 5),
      ok(1, get('bad'), null, 6, 7),
    ]);
    assert.equal(result.key, 'bad');
  });
});

describe('operations whose outcome is unknown', () => {
  test('a timed-out write may have taken effect', () => {
    assertLinearizable([
      ok(1, put('x', 'a'), null, 0, 10),
      timedOut(2, put('x', 'b'), 20),
      ok(1, get('x'), 'b', 100, 110),
    ]);
  });

  test('a timed-out write may never have taken effect', () => {
    assertLinearizable([
      ok(1, put('x', 'a'), null, 0, 10),
      timedOut(2, put('x', 'b'), 20),
      ok(1, get('x'), 'a', 100, 110),
      ok(1, get('x'), 'a', 1000, 1100),
    ]);
  });

  test('a timed-out write may take effect long after the client gave up', () => {
    assertLinearizable([
      timedOut(2, put('x', 'late'), 0),
      ok(1, put('x', 'a'), null, 100, 110),
      ok(1, get('x'), 'a', 120, 130),
      ok(1, get('x'), 'late', 140, 150),
    ]);
  });

  test('a timed-out write cannot take effect before it was called', () => {
    assertNotLinearizable([
      ok(1, get('x'), 'b', 0, 10),
      timedOut(2, put('x', 'b'), 20),
    ]);
  });

  test('a timed-out write takes effect at most once: once overwritten it cannot come back', () => {
    assertNotLinearizable([
      timedOut(2, put('x', 'b'), 0),
      ok(1, get('x'), 'b', 10, 20),
      ok(1, put('x', 'a'), null, 30, 40),
      ok(1, get('x'), 'a', 50, 60),
      ok(1, get('x'), 'b', 70, 80),
    ]);
  });

  test('a timed-out increment counts only if the replies need it', () => {
    assertLinearizable([timedOut(1, incr('c', 1), 0), ok(2, incr('c', 1), 2, 10, 20)]);
    assertLinearizable([timedOut(1, incr('c', 1), 0), ok(2, incr('c', 1), 1, 10, 20)]);
    assertNotLinearizable([timedOut(1, incr('c', 1), 0), ok(2, incr('c', 1), 3, 10, 20)]);
  });

  test('interchangeable timed-out ops are tried in call order only, so many of them stay cheap', () => {
    // 40 identical timed-out increments: 2^40 subsets, but only 41 counts that differ.
    const pending = Array.from({ length: 40 }, (_, i) => timedOut(i, incr('c', 1), i));
    const start = performance.now();
    assertLinearizable([...pending, ok(40, get('c'), 25, 100, 110), ok(40, incr('c', 1), 40, 120, 130)]);
    assertNotLinearizable([...pending, ok(40, get('c'), 41, 100, 110)]);
    assertNotLinearizable([...pending, ok(40, get('c'), 25, 100, 110), ok(40, get('c'), 24, 120, 130)]);
    assert.ok(performance.now() - start < 2000);
  });

  test('a timed-out cas either succeeded or changed nothing', () => {
    const start = ok(1, put('x', 'a'), null, 0, 1);
    assertLinearizable([start, timedOut(2, cas('x', 'a', 'b'), 2), ok(1, get('x'), 'b', 10, 11)]);
    assertLinearizable([start, timedOut(2, cas('x', 'a', 'b'), 2), ok(1, get('x'), 'a', 10, 11)]);
    assertNotLinearizable([start, timedOut(2, cas('x', 'z', 'b'), 2), ok(1, get('x'), 'b', 10, 11)]);
  });
});

describe('results', () => {
  test('a violation is explained by the longest linearizable prefix and the ops that could not follow', () => {
    const result = assertNotLinearizable([
      ok(1, put('x', 'a'), null, 0, 10),
      ok(2, put('x', 'b'), null, 20, 30),
      timedOut(3, put('x', 'c'), 25),
      ok(4, get('x'), 'a', 40, 50),
    ]);
    const lines = result.explanation.split('\n');
    assert.equal(lines[0], 'key "x": its 4 operations have no linearization.');
    assert.match(result.explanation, /Longest linearizable prefix found: 2 operations/);
    assert.match(result.explanation, /\[0\] client 1: put\("x", "a"\)  \[0, 10\]  => "a"/);
    assert.match(result.explanation, /\[1\] client 2: put\("x", "b"\)  \[20, 30\]  => "b"/);
    assert.match(result.explanation, /Then the value is "b"/);
    assert.match(result.explanation, /\[3\] client 4: get\("x"\) -> "a"  \[40, 50\]: read "a" but the value is "b"/);
    assert.match(result.explanation, /timed-out operations that could also take effect here do not help: \[2\]/);
    assert.match(result.explanation, /\[3\] returned at 50, so it had to take effect before then/);
  });

  test('an explanation shows the value after each op, absent included', () => {
    const result = assertNotLinearizable([
      ok(1, get('x'), null, 0, 1),
      ok(1, put('x', 'a'), null, 2, 3),
      ok(1, get('x'), 'b', 4, 5),
    ]);
    assert.match(result.explanation, /\[0\] client 1: get\("x"\) -> null  \[0, 1\]  => absent\n/);
    assert.match(result.explanation, /\[1\] client 1: put\("x", "a"\)  \[2, 3\]  => "a"\n/);
  });

  test('malformed operations are rejected with their index', () => {
    const bad = { client: 1, op: 'put', key: 'x', value: 'a', call: 10, return: 5, ok: true } as const;
    assert.throws(
      () => checkLinearizability([ok(1, put('x', 'a'), null, 0, 1), bad]),
      (err: unknown) => isFlotillaError(err, 'BAD_ARGUMENT') && /^history\[1\]: "return" \(5\) is before/.test(err.message),
    );
  });

  test('the search gives up with ok: unknown when its step budget runs out', () => {
    const history = manyConcurrentPutsThenAnImpossibleRead(16);
    const result = checkLinearizability(history, { maxSteps: 1000 });
    assert.equal(result.ok, 'unknown');
    assert.ok(result.ok === 'unknown');
    assert.equal(result.key, 'x');
    assert.match(result.reason, /key "x" \(17 operations\) still undecided after 1000 search steps/);
  });

  test('the search gives up with ok: unknown when its timeout expires', () => {
    const result = checkLinearizability(manyConcurrentPutsThenAnImpossibleRead(20), { timeoutMs: 0 });
    assert.ok(result.ok === 'unknown', JSON.stringify(result));
    assert.match(result.reason, /timeout/);
  });

  test('a budget large enough lets a hard history finish with a definite answer', () => {
    // 2^12 subsets of puts, times the possible values: a few hundred thousand steps.
    const result = checkLinearizability(manyConcurrentPutsThenAnImpossibleRead(12));
    assert.equal(result.ok, false);
  });
});

/** n puts of distinct values all concurrent with a read of a value none wrote: every order fails. */
function manyConcurrentPutsThenAnImpossibleRead(n: number): HistoryOp[] {
  const history = Array.from({ length: n }, (_, i) => ok(i, put('x', `v${i}`), null, i, 1000 + i));
  history.push(ok(n, get('x'), 'never written', n, 2000));
  return history;
}

describe('agreement with an exhaustive search', () => {
  test('the checker and a brute-force search over all orders agree on small random histories', () => {
    let linearizable = 0;
    for (let seed = 1; seed <= 3000; seed++) {
      const history = smallRandomHistory(seed);
      const expected = existsLinearization(history);
      const result = checkLinearizability(history);
      assert.equal(result.ok, expected, `seed ${seed}: ${JSON.stringify(history)}`);
      if (expected) linearizable++;
    }
    // Both answers must be well represented for the comparison to mean something.
    assert.ok(linearizable > 500 && linearizable < 2500, `${linearizable} linearizable`);
  });
});

/** Up to 8 ops on one key, any kinds, random intervals and replies, some failed or timed out. */
function smallRandomHistory(seed: number): HistoryOp[] {
  const random = mulberry32(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const history: HistoryOp[] = [];
  for (let client = 0, n = 1 + int(8); client < n; client++) {
    const input = pick<OpInput>([
      put('k', pick(['a', 'b'])),
      get('k'),
      get('k'),
      append('k', 'x'),
      cas('k', pick(['a', 'b', null]), pick(['a', 'b'])),
      incr('k', 1 + int(2)),
      reset('k'),
    ]);
    const outputs: Record<OpInput['op'], readonly Output[]> = {
      put: [null],
      get: [null, 'a', 'b', 'ax', 'bx', '0', 1, 2],
      append: [null, 'x', 'ax', 'bx', 'xx'],
      cas: [true, false],
      incr: [null, 1, 2, 3, 4],
      reset: [null],
    };
    const call = int(20);
    const fate = random();
    if (fate < 0.15) history.push(timedOut(client, input, call));
    else if (fate < 0.2) history.push(failed(client, input, call, call + int(10)));
    else history.push(ok(client, input, pick(outputs[input.op]), call, call + int(10)));
  }
  return history;
}

/** Tries every order of every subset of the timed-out ops: the definition, slowly. */
function existsLinearization(history: HistoryOp[]): boolean {
  const ops = history.filter((op) => op.ok !== false);
  const done = ops.map(() => false);
  const search = (value: KvValue): boolean => {
    if (ops.every((op, i) => done[i] || op.ok !== true)) return true;
    return ops.some((op, i) => {
      // Next only if no pending successful op returned before it was called.
      if (done[i] || ops.some((p, j) => !done[j] && p.ok === true && (p.return ?? Infinity) < op.call)) return false;
      const result = stepKv(value, op, op.ok === true ? op.output : undefined);
      if (!result.ok) return false;
      done[i] = true;
      const found = search(result.value);
      done[i] = false;
      return found;
    });
  };
  return search(null);
}

describe('performance', () => {
  test('a random linearizable history of 5,000 ops on 4 keys from 8 clients checks within the default budget', () => {
    const history = randomLinearizableHistory({ seed: 7, ops: 5000, clients: 8 });
    assert.equal(history.length, 5000);
    const start = performance.now();
    assertLinearizable(history);
    const ms = performance.now() - start;
    assert.ok(ms < 20_000, `took ${ms.toFixed(0)} ms`);
  });

  test('a random history of 5,000 ops on one counter with 10% timed out checks within the default budget', () => {
    const history = randomLinearizableHistory({ seed: 11, ops: 5000, clients: 8, keys: ['c0'], timedOut: 0.1 });
    assertLinearizable(history);
  });

  test('random histories from an atomic register check as linearizable across seeds', () => {
    for (let seed = 1; seed <= 20; seed++) {
      assertLinearizable(randomLinearizableHistory({ seed, ops: 400, clients: 5 }));
    }
  });

  test('the same random history with one read corrupted to a value never written is caught', () => {
    const history = randomLinearizableHistory({ seed: 3, ops: 2000, clients: 8 });
    const index = history.findIndex((op, i) => i > 1000 && op.op === 'get' && op.ok === true && op.key === 'r0');
    const target = history[index];
    assert.ok(target !== undefined && target.op === 'get');
    history[index] = { ...target, output: 'never written' };
    const result = assertNotLinearizable(history);
    assert.equal(result.key, 'r0');
    assert.ok(result.blocked.includes(index), result.explanation);
  });
});

/**
 * Simulates clients of a real atomic key-value store: each client runs its operations one after
 * another with random gaps and durations; each operation takes effect at a random instant inside
 * its interval (a timed-out one at any time after its call, or never), and the replies come from
 * applying the operations in the order of those instants. So the history is linearizable by
 * construction. Keys r0, r1 are string registers, c0, c1 counters.
 */
function randomLinearizableHistory(options: {
  seed: number;
  ops: number;
  clients: number;
  keys?: string[];
  /** The share of ops that time out (another 2% fail). */
  timedOut?: number;
}): HistoryOp[] {
  const keys = options.keys ?? ['r0', 'r1', 'c0', 'c1'];
  const timedOutShare = options.timedOut ?? 0.02;
  const random = mulberry32(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const values = ['v0', 'v1', 'v2', 'v3'];

  const planned: { op: HistoryOp; at: number }[] = [];
  for (let client = 0; client < options.clients; client++) {
    let t = Math.floor(random() * 100);
    for (let i = client; i < options.ops; i += options.clients) {
      const key = pick(keys);
      const input: OpInput = key.startsWith('r')
        ? pick<OpInput>([
            put(key, pick(values)),
            put(key, pick(values)),
            get(key),
            get(key),
            get(key),
            append(key, 'x'),
            cas(key, pick([...values, null]), pick(values)),
          ])
        : pick<OpInput>([incr(key, 1 + Math.floor(random() * 3)), get(key), get(key), reset(key)]);
      const call = t + Math.floor(random() * 50);
      const ret = call + 1 + Math.floor(random() * 400);
      t = ret;
      const fate = random();
      if (fate < 0.02) {
        planned.push({ op: failed(client, input, call, ret), at: Infinity });
      } else if (fate < 0.02 + timedOutShare) {
        // Timed out: took effect inside a long window after its call, or never.
        const at = random() < 0.5 ? call + random() * 5000 : Infinity;
        planned.push({ op: timedOut(client, input, call), at });
      } else {
        planned.push({ op: ok(client, input, null, call, ret), at: call + random() * (ret - call) });
      }
    }
  }

  const store = new Map<string, string>();
  for (const { op, at } of [...planned].sort((a, b) => a.at - b.at)) {
    if (at === Infinity) continue;
    const output = applyToStore(store, op);
    if (op.ok === true) op.output = output;
  }
  return planned.map((p) => p.op).sort((a, b) => a.call - b.call);
}

/** The reference store the random histories run against, independent of the checker's model. */
function applyToStore(store: Map<string, string>, op: HistoryOp): Output {
  const current = store.get(op.key);
  switch (op.op) {
    case 'put':
      store.set(op.key, op.value);
      return null;
    case 'get':
      if (current === undefined) return null;
      return op.key.startsWith('c') ? Number(current) : current;
    case 'append':
      store.set(op.key, (current ?? '') + op.value);
      return store.get(op.key) ?? null;
    case 'cas':
      if ((current ?? null) !== op.expected) return false;
      store.set(op.key, op.value);
      return true;
    case 'incr': {
      const next = Number(current ?? 0) + op.n;
      store.set(op.key, String(next));
      return next;
    }
    case 'reset':
      store.set(op.key, '0');
      return null;
  }
}

