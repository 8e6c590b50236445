import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepKv, type KvValue, type StepResult } from '../../src/check/kv-model.js';
import type { OpInput, Output } from '../../src/check/history.js';

function value(result: StepResult): KvValue {
  assert.ok(result.ok, `expected a legal step, got: ${result.ok ? '' : result.reason}`);
  return result.value;
}

function illegal(result: StepResult): string {
  assert.equal(result.ok, false, 'expected an illegal step');
  return result.ok ? '' : result.reason;
}

const step = (v: KvValue, op: OpInput, output?: Output): StepResult => stepKv(v, op, output);

test('put sets the value whatever it was', () => {
  assert.equal(value(step(null, { op: 'put', key: 'k', value: 'a' }, null)), 'a');
  assert.equal(value(step('x', { op: 'put', key: 'k', value: '' }, null)), '');
});

test('get must return the current value, null when absent, integers as numbers or strings', () => {
  assert.equal(value(step(null, { op: 'get', key: 'k' }, null)), null);
  assert.equal(value(step('a', { op: 'get', key: 'k' }, 'a')), 'a');
  assert.equal(value(step('12', { op: 'get', key: 'k' }, 12)), '12');
  assert.match(illegal(step('a', { op: 'get', key: 'k' }, 'b')), /read "b" but the value is "a"/);
  assert.match(illegal(step('', { op: 'get', key: 'k' }, null)), /read absent/);
  assert.match(illegal(step(null, { op: 'get', key: 'k' }, '')), /the value is absent/);
});

test('append concatenates onto the current string, absent counting as empty', () => {
  assert.equal(value(step(null, { op: 'append', key: 'k', value: 'a' }, null)), 'a');
  assert.equal(value(step('a', { op: 'append', key: 'k', value: 'b' }, 'ab')), 'ab');
  assert.match(illegal(step('a', { op: 'append', key: 'k', value: 'b' }, 'b')), /appending gives "ab"/);
});

test('cas sets the value only when it equals expected, and replies whether it did', () => {
  const cas = (expected: string | null): OpInput => ({ op: 'cas', key: 'k', expected, value: 'new' });
  assert.equal(value(step('old', cas('old'), true)), 'new');
  assert.equal(value(step(null, cas(null), true)), 'new');
  assert.equal(value(step('other', cas('old'), false)), 'other');
  assert.match(illegal(step('other', cas('old'), true)), /succeeded but the value was "other"/);
  assert.match(illegal(step('old', cas('old'), false)), /failed but the value was the expected "old"/);
  assert.match(illegal(step(null, cas(''), true)), /succeeded/);
});

test('incr adds n to an integer value, absent counting as 0, and replies the new value', () => {
  const incr = (n: number): OpInput => ({ op: 'incr', key: 'k', n });
  assert.equal(value(step(null, incr(5), 5)), '5');
  assert.equal(value(step('5', incr(-7), '-2')), '-2');
  assert.equal(value(step('9007199254740991', incr(1), null)), '9007199254740992');
  assert.match(illegal(step('5', incr(1), 5)), /replied 5 but the value becomes 6/);
  assert.match(illegal(step('abc', incr(1), null)), /non-integer value "abc"/);
  assert.match(illegal(step('007', incr(1), null)), /non-integer/);
});

test('reset sets the value to 0', () => {
  assert.equal(value(step('41', { op: 'reset', key: 'k' }, null)), '0');
  assert.equal(value(step('0', { op: 'incr', key: 'k', n: 1 }, 1)), '1');
});

test('an unknown output is not checked but the effect still applies', () => {
  assert.equal(value(step('x', { op: 'cas', key: 'k', expected: 'x', value: 'y' }, undefined)), 'y');
  assert.equal(value(step('z', { op: 'cas', key: 'k', expected: 'x', value: 'y' }, undefined)), 'z');
  assert.equal(value(step('1', { op: 'incr', key: 'k', n: 2 }, undefined)), '3');
});
