import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  HistoryRecorder,
  describeOp,
  formatHistory,
  monotonicClock,
  parseHistory,
  readHistory,
  writeHistory,
  type HistoryOp,
} from '../../src/check/history.js';
import { isFlotillaError } from '../../src/common/errors.js';

const sample: HistoryOp[] = [
  { client: 1, op: 'put', key: 'k', value: 'a', output: null, call: 0, return: 10, ok: true },
  { client: 2, op: 'get', key: 'k', output: 'a', call: 5, return: 12, ok: true },
  { client: 3, op: 'append', key: 'k', value: 'b', output: 'ab', call: 13, return: 20, ok: true },
  { client: 1, op: 'cas', key: 'k', expected: 'ab', value: 'c', output: true, call: 21, return: 30, ok: true },
  { client: 2, op: 'cas', key: 'j', expected: null, value: 'x', call: 21, return: 30, ok: false },
  { client: 4, op: 'incr', key: 'n', n: -3, output: -3, call: 31, return: 40, ok: true },
  { client: 5, op: 'reset', key: 'n', call: 41, ok: 'unknown' },
  { client: 6, op: 'get', key: 'n', output: 9007199254740991, call: 9007199254740990, return: 9007199254740991, ok: true },
];

test('writeHistory then readHistory gives back the same operations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-history-'));
  try {
    const path = join(dir, 'history.jsonl');
    writeHistory(path, sample);
    assert.deepEqual(readHistory(path), sample);
    assert.equal(formatHistory(sample).split('\n').length, sample.length + 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the written format is one JSON object a line with the documented field names', () => {
  const [first] = formatHistory(sample.slice(0, 1)).split('\n');
  assert.equal(first, '{"client":1,"op":"put","key":"k","value":"a","output":null,"call":0,"return":10,"ok":true}');
});

test('parseHistory skips blank lines and ignores fields an op does not use', () => {
  const text =
    '\n{"client":1,"op":"get","key":"k","value":null,"n":null,"output":null,"call":1,"return":2,"ok":true}\n\n' +
    '{"client":1,"op":"put","key":"k","value":"v","call":3,"return":null,"ok":"unknown","extra":1}\n';
  assert.deepEqual(parseHistory(text), [
    { client: 1, op: 'get', key: 'k', output: null, call: 1, return: 2, ok: true },
    { client: 1, op: 'put', key: 'k', value: 'v', call: 3, ok: 'unknown' },
  ]);
});

function parseError(text: string): string {
  try {
    parseHistory(text);
  } catch (err) {
    assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'), `expected a BAD_ARGUMENT FlotillaError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('expected parseHistory to throw');
}

test('a malformed line is rejected with an error naming its line number', () => {
  const good = '{"client":1,"op":"put","key":"k","value":"v","call":1,"return":2,"ok":true}';
  assert.match(parseError(`${good}\n${good}\n{"client":1,"op":`), /^history line 3: /);
  assert.match(parseError(`${good}\n[1,2]`), /^history line 2: not a JSON object/);
  assert.match(parseError('{"client":1,"op":"delete","key":"k","call":1,"return":2,"ok":true}'), /line 1: "op" must be one of/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","call":1,"return":2,"ok":true}'), /"value" must be a string/);
  assert.match(parseError('{"client":1,"op":"incr","key":"k","n":1.5,"call":1,"return":2,"ok":true}'), /"n" must be an integer/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","value":"v","call":1,"ok":true}'), /"return" is required/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","value":"v","call":5,"return":2,"ok":true}'), /before "call"/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","value":"v","call":1,"return":2,"ok":"maybe"}'), /"ok" must be/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","value":"v","call":-1,"return":2,"ok":true}'), /non-negative/);
  assert.match(parseError('{"client":1,"op":"get","key":"k","call":1,"return":2,"ok":true}'), /successful get needs "output"/);
  assert.match(parseError('{"client":1,"op":"cas","key":"k","expected":"a","value":"b","output":"yes","call":1,"return":2,"ok":true}'), /cas needs "output"/);
  assert.match(parseError('{"client":1,"op":"cas","key":"k","expected":3,"value":"b","call":1,"return":2,"ok":false}'), /"expected" must be a string or null/);
  assert.match(parseError('{"client":1,"op":"put","key":"k","value":"v","output":{},"call":1,"return":2,"ok":true}'), /"output" must be/);
});

test('describeOp shows the call, the reply and the interval', () => {
  assert.equal(describeOp(sample[3]!), 'client 1: cas("k", "ab" -> "c") -> true  [21, 30]');
  assert.equal(describeOp(sample[6]!), 'client 5: reset("n")  (timed out)  [41, ∞)');
  assert.equal(describeOp(sample[4]!), 'client 2: cas("j", null -> "x")  (failed)  [21, 30]');
});

test('HistoryRecorder stamps call and return from its clock and keeps call order', () => {
  let now = 100;
  const recorder = new HistoryRecorder(() => now);
  const put = recorder.call(1, { op: 'put', key: 'k', value: 'a' });
  now = 150;
  const get = recorder.call(2, { op: 'get', key: 'k' });
  const cas = recorder.call(3, { op: 'cas', key: 'k', expected: null, value: 'b' });
  const incr = recorder.call(4, { op: 'incr', key: 'n', n: 1 });
  now = 200;
  recorder.ok(get, 'a');
  recorder.ok(put, null);
  recorder.fail(cas);
  recorder.unknown(incr);
  recorder.call(5, { op: 'reset', key: 'n' });

  assert.deepEqual(recorder.history(), [
    { client: 1, op: 'put', key: 'k', value: 'a', call: 100, ok: true, output: null, return: 200 },
    { client: 2, op: 'get', key: 'k', call: 150, ok: true, output: 'a', return: 200 },
    { client: 3, op: 'cas', key: 'k', expected: null, value: 'b', call: 150, ok: false, return: 200 },
    { client: 4, op: 'incr', key: 'n', n: 1, call: 150, ok: 'unknown' },
    { client: 5, op: 'reset', key: 'n', call: 200, ok: 'unknown' },
  ]);
  assert.deepEqual(parseHistory(formatHistory(recorder.history())), recorder.history());
});

test('HistoryRecorder refuses to complete an op twice or to use a clock that is not integer ns', () => {
  const recorder = new HistoryRecorder(() => 1);
  const id = recorder.call(1, { op: 'get', key: 'k' });
  recorder.ok(id, null);
  assert.throws(() => recorder.ok(id, null), /not pending/);
  assert.throws(() => recorder.fail(42), /not pending/);
  assert.throws(() => new HistoryRecorder(() => 1.5).call(1, { op: 'get', key: 'k' }), /integer nanoseconds/);
});

test('the default clock counts integer nanoseconds upwards from zero', () => {
  const clock = monotonicClock();
  const a = clock();
  const b = clock();
  assert.ok(Number.isSafeInteger(a) && a >= 0 && b >= a);
});

test('readHistory reports the line of a malformed op in a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flotilla-history-'));
  try {
    const path = join(dir, 'bad.jsonl');
    writeFileSync(path, formatHistory(sample) + 'not json\n');
    assert.throws(() => readHistory(path), /history line 9: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
