import { describe, it } from 'node:test';
import assert from 'node:assert/strict';

import { FlotillaError } from '../../src/common/errors.js';
import { MAX_NAME_LENGTH, validateName, type NameKind } from '../../src/fleet/names.js';

/** Asserts that validation fails with BAD_NAME and a message matching `pattern`. */
function rejects(kind: NameKind, value: unknown, pattern: RegExp): void {
  assert.throws(
    () => validateName(kind, value),
    (err) => {
      assert.ok(err instanceof FlotillaError, `not a FlotillaError: ${String(err)}`);
      assert.equal(err.code, 'BAD_NAME');
      assert.match(err.message, pattern);
      assert.equal(err.details['kind'], kind);
      return true;
    },
  );
}

describe('validateName', () => {
  it('accepts letters, digits, ".", "_" and "-", from 1 to 128 characters', () => {
    for (const value of ['a', 'Z', '0', '.', '_', '-', 'orders-eu.west_1', 'x'.repeat(MAX_NAME_LENGTH)]) {
      for (const kind of ['group', 'zone', 'host'] as const) validateName(kind, value);
    }
  });

  it('narrows an unknown value to a string', () => {
    const input: unknown = 'host-1';
    validateName('host', input);
    assert.equal(input.length, 6); // type-checks only because validateName asserts `string`
  });

  it('names the kind of name in the message', () => {
    rejects('group', '', /^group name must not be empty$/);
    rejects('zone', '', /^zone must not be empty$/);
    rejects('host', '', /^host id must not be empty$/);
  });

  it('rejects values that are not strings', () => {
    rejects('group', 42, /group name must be a string, got number/);
    rejects('host', null, /host id must be a string, got null/);
    rejects('zone', undefined, /zone must be a string, got undefined/);
    rejects('group', ['a'], /got object/);
  });

  it('rejects names longer than 128 characters, saying how long they were', () => {
    const tooLong = 'x'.repeat(MAX_NAME_LENGTH + 1);
    rejects('group', tooLong, /group name is 129 characters long, at most 128 allowed/);
  });

  it('rejects a disallowed character, saying which one and where', () => {
    rejects('group', 'a b', /group name "a b" has " " at position 1/);
    rejects('host', 'h/1', /host id "h\/1" has "\/" at position 1/);
    rejects('zone', 'eu:west', /has ":" at position 2/);
    rejects('group', 'a\u0000b', /has "\\u0000" at position 1/);
    rejects('group', 'grüße', /has "ü" at position 2/);
    rejects('group', 'ok🚀', /has "🚀" at position 2/);
    rejects('host', 'h1\n', /has "\\n" at position 2/);
    for (const value of ['a+b', 'a*b', 'a@b', 'a,b', 'a"b', 'a\\b', 'a~b']) {
      rejects('group', value, /only letters/);
    }
  });
});
