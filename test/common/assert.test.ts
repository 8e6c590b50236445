import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AssertionError, assert as check } from '../../src/common/assert.js';
import { assert as raftCheck } from '../../src/raft/assert.js';

describe('assert', () => {
  it('throws an AssertionError naming the rule when the condition is false, and nothing when true', () => {
    assert.throws(() => check(false, 'commit never goes back: 9 after 10'), (err) => err instanceof AssertionError && err.message === 'flotilla invariant violated: commit never goes back: 9 after 10');
    check(true, 'never seen');
    assert.throws(() => raftCheck(false, 'the same check in the Raft core'), AssertionError);
  });

  it('builds a message given as a function only when the check fails', () => {
    let built = 0;
    const message = () => `built ${++built}`;
    check(true, message);
    assert.equal(built, 0);
    assert.throws(() => check(false, message), /flotilla invariant violated: built 1$/);
  });
});
