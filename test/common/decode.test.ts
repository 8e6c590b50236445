import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Decode } from '../../src/common/decode.js';
import { isFlotillaError } from '../../src/common/errors.js';

const d = new Decode('TRANSPORT_PROTOCOL', 'a test payload');
const encoder = new TextEncoder();

/** Throws the decoder's code with a message matching `message`. */
function refuses(run: () => unknown, message: RegExp): void {
  assert.throws(run, (err) => isFlotillaError(err, 'TRANSPORT_PROTOCOL') && message.test(err.message));
}

describe('decode', () => {
  it('returns each value as it came, unchanged (not a copy), once it passes', () => {
    const value = d.json(encoder.encode('{"a":[1,2],"b":{"x":"y"},"newer":true}'));
    const o = d.object(value, '');
    assert.equal(d.array(o.a, 'a', d.int), o.a);
    assert.equal(d.record(o.b, 'b', d.string), o.b);
    assert.equal(d.optional(o.c, 'c', d.string), undefined);
    assert.equal(d.oneOf('x', 'k', ['x', 'y']), 'x');
    assert.deepEqual(value, { a: [1, 2], b: { x: 'y' }, newer: true });
  });

  it('names the payload, the field and what it should have been', () => {
    refuses(() => d.json('{nope'), /^a test payload is not JSON$/);
    refuses(() => d.object([], ''), /^a test payload: it is an array, not an object$/);
    refuses(() => d.object(null, 'x'), /: x is null, not an object$/);
    refuses(() => d.string(undefined, d.at('group', 'name')), /: group\.name is missing, not a string$/);
    refuses(() => d.int(1.5, 'n'), /: n is 1\.5, not an integer$/);
    refuses(() => d.int('1', 'n'), /: n is the string "1", not an integer$/);
    refuses(() => d.number(null, 'n'), /: n is null, not a number$/);
    refuses(() => d.boolean(0, 'ok'), /: ok is 0, not true or false$/);
    refuses(() => d.oneOf('z', 'op', ['x', 'y']), /: op is the string "z", not one of x, y$/);
    refuses(() => d.array([1, 'two'], 'list', d.int), /: list\[1\] is the string "two", not an integer$/);
    refuses(() => d.record({ a: 'x', b: 2 }, 'map', d.string), /: map\.b is 2, not a string$/);
    refuses(() => d.optional(3, 'maybe', d.string), /: maybe is 3, not a string$/);
  });

  it('throws the code it was made with', () => {
    assert.throws(() => new Decode('BAD_ARGUMENT', 'x').string(1, 'f'), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
  });
});
