// Comparing state hashes between replicas (group/state-hash.ts): a peer's hash is compared at once
// or when this replica reaches its index, a mismatch is reported once and cleared when a later
// index agrees.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { StateHashes, hashState } from '../../src/group/state-hash.js';

function hashes(): { table: StateHashes; found: () => number } {
  let found = 0;
  return { table: new StateHashes(pino({ level: 'silent' }), () => 0, () => found++), found: () => found };
}

describe('state hashes', () => {
  it('are 64 bits of SHA-1 in hex, equal for equal bytes', () => {
    const a = hashState(new TextEncoder().encode('{"n":1}'));
    assert.match(a, /^[0-9a-f]{16}$/);
    assert.equal(hashState(new TextEncoder().encode('{"n":1}')), a);
    assert.notEqual(hashState(new TextEncoder().encode('{"n":2}')), a);
  });

  it('compare a peer ahead once this replica gets there, and a peer behind at once', () => {
    const { table, found } = hashes();
    table.recordPeer('h2', { index: 10, hash: 'aa' }); // h2 is ahead
    assert.equal(found(), 0);
    table.recordOwn({ index: 10, hash: 'bb' });
    assert.equal(found(), 1);
    table.recordOwn({ index: 20, hash: 'cc' });
    table.recordPeer('h3', { index: 20, hash: 'cc' }); // h3 behind, agrees
    table.recordPeer('h3', { index: 10, hash: 'dd' }); // and at 10 did not
    assert.equal(found(), 2);
    assert.deepEqual(table.mismatches().map((m) => [m.peer, m.index, m.ours, m.theirs]).sort(), [['h2', 10, 'bb', 'aa'], ['h3', 10, 'bb', 'dd']]);
    table.recordPeer('h2', { index: 10, hash: 'aa' }); // told again: reported once
    assert.equal(found(), 2);
  });

  it('forget a mismatch once a later index agrees, and skip what they cannot compare', () => {
    const { table, found } = hashes();
    table.recordOwn({ index: 5, hash: 'aa' });
    table.recordPeer('h2', { index: 5, hash: 'bb' });
    assert.equal(table.mismatches().length, 1);
    table.recordOwn({ index: 10, hash: 'cc' });
    table.recordPeer('h2', { index: 10, hash: 'cc' });
    assert.deepEqual(table.mismatches(), []);
    table.recordPeer('h2', { index: 7, hash: 'zz' }); // an index this replica did not snapshot at
    table.recordPeer('h3', { index: 30, hash: 'zz' });
    table.recordOwn({ index: 40, hash: 'yy' }); // it skipped 30 (a snapshot from the leader): nothing to compare
    assert.equal(found(), 1);
    assert.deepEqual(table.mismatches(), []);
  });
});
