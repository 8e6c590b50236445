// The JSON bounds at a group's door (group/json-value.ts): the depth scan counts brackets outside
// strings only, and values JSON cannot encode are BAD_ARGUMENT saying why.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { MAX_JSON_DEPTH, checkJsonDepth, toJsonText } from '../../src/group/json-value.js';
import { jsonCodec, jsonReplyCodec } from '../../src/group/state-machine.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const nested = (depth: number, inner = '1'): string => '['.repeat(depth) + inner + ']'.repeat(depth);
const tooDeep = (err: unknown): boolean => isFlotillaError(err, 'BAD_ARGUMENT') && err.details.limitName === 'maxJsonDepth';

describe('JSON values at the door', () => {
  it('takes MAX_JSON_DEPTH levels of arrays and objects and refuses one more', () => {
    assert.equal(MAX_JSON_DEPTH, 64);
    checkJsonDepth(utf8(nested(64)), 'x');
    assert.throws(() => checkJsonDepth(utf8(nested(65)), 'the command'), (err) => tooDeep(err) && /^the command is nested more than maxJsonDepth \(64/.test((err as Error).message));
    const objects = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    checkJsonDepth(utf8(objects(64)), 'x');
    assert.throws(() => checkJsonDepth(utf8(objects(65)), 'x'), tooDeep);
    assert.throws(() => checkJsonDepth(utf8(`{"a":[${nested(63)}]}`), 'x'), tooDeep);
  });

  it('counts no bracket inside a string, escaped quotes and backslashes and UTF-8 included', () => {
    checkJsonDepth(utf8(JSON.stringify(['['.repeat(500), '{"\\"['.repeat(100), 'é[ü{'.repeat(100), '\\'.repeat(99) + '['])), 'x');
    // An escaped quote does not end the string; an escaped backslash before the closing quote does.
    checkJsonDepth(utf8(`["\\"${'['.repeat(100)}"]`), 'x');
    assert.throws(() => checkJsonDepth(utf8(`["\\\\",${nested(64)}]`), 'x'), tooDeep);
    // Long and flat: nothing to refuse.
    checkJsonDepth(utf8(JSON.stringify(Array.from({ length: 10_000 }, (_, i) => [i, { i }]))), 'x');
  });

  it('says why a value has no JSON encoding', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    const cases: Array<[unknown, RegExp]> = [
      [{ n: 1n }, /^the command has no JSON encoding: it holds a BigInt/],
      [cycle, /^the command has no JSON encoding: it is circular/],
      [JSON.parse(nested(100_000)), /^the command has no JSON encoding: it is nested too deeply \(more than maxJsonDepth, 64 levels/],
      [() => 1, /^the command has no JSON encoding: it is a function$/],
      [Symbol('s'), /^the command has no JSON encoding: it is a symbol$/],
      [undefined, /^the command has no JSON encoding: it is undefined$/],
      [{ toJSON: () => { throw new Error('no'); } }, /^the command has no JSON encoding: no$/],
    ];
    for (const [value, message] of cases) {
      assert.throws(() => toJsonText(value, 'the command'), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && message.test(err.message), String(message));
    }
    const codec = jsonCodec('the query');
    assert.throws(() => codec.validate!(codec.encode(JSON.parse(nested(65))), 'the query'), tooDeep);
    assert.equal(new TextDecoder().decode(jsonCodec().encode({ a: [1, 'x'] })), '{"a":[1,"x"]}');
  });

  it('encodes a reply as commands apply, and checks its depth on the way out', () => {
    const replies = jsonReplyCodec<unknown>();
    const deep = replies.encode(JSON.parse(nested(100)));
    assert.throws(() => replies.validate!(deep, 'the reply'), tooDeep);
    assert.equal(replies.encode(undefined).length, 0);
    replies.validate!(new Uint8Array(0), 'the reply');
  });
});
