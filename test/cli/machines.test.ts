// The built-in machines of `flotilla host` (src/cli/machines.ts): what they reply, that a refused
// command changes nothing, that a kv command costs O(1) (it changes its state in place rather than
// copying it), and that a snapshot restores to the same state and is the same bytes on every replica.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { counterMachine, kvMachine } from '../../src/cli/machines.js';
import type { AnyMachine } from '../../src/host/options.js';

const decoder = new TextDecoder();

/** Applies commands in order as a group does, returning the final state and the replies. */
function run(machine: AnyMachine, cmds: unknown[], from: unknown = machine.init()): { state: unknown; replies: unknown[] } {
  let state = from;
  const replies: unknown[] = [];
  for (const cmd of cmds) {
    const result = machine.command(state, cmd);
    state = result.state;
    replies.push(result.reply);
  }
  return { state, replies };
}

describe('the counter machine', () => {
  it('adds and replies the new value; refuses anything else', () => {
    assert.deepEqual(run(counterMachine, [{ op: 'incr' }, { op: 'incr', by: 5 }]).replies, [1, 6]);
    assert.throws(() => counterMachine.command(0, { op: 'incr', by: 'x' }), /by must be a number/);
    assert.equal(counterMachine.restore(counterMachine.snapshot(41)), 41);
  });
});

describe('the kv machine', () => {
  it('puts, reads and deletes, replying the previous value', () => {
    const { state, replies } = run(kvMachine, [
      { op: 'put', key: 'a', value: { n: 1 } },
      { op: 'put', key: 'a', value: 2 },
      { op: 'put', key: 'b' },
      { op: 'delete', key: 'a' },
      { op: 'delete', key: 'a' },
    ]);
    assert.deepEqual(replies, [null, { n: 1 }, null, 2, null]);
    assert.equal(kvMachine.query(state, { op: 'get', key: 'a' }), null);
    assert.equal(kvMachine.query(state, { op: 'get', key: 'b' }), null);
    assert.deepEqual(kvMachine.query(state, { op: 'keys' }), ['b']);
  });

  it('refuses a bad command before it changes anything', () => {
    const { state } = run(kvMachine, [{ op: 'put', key: 'k', value: 1 }]);
    const before = decoder.decode(kvMachine.snapshot(state));
    for (const bad of [null, 7, { op: 'put' }, { op: 'put', key: 3 }, { op: 'rename', key: 'k' }, { op: 'delete' }]) {
      assert.throws(() => kvMachine.command(state, bad), /kv: /);
    }
    assert.equal(decoder.decode(kvMachine.snapshot(state)), before, 'a refused command leaves the state as it was');
  });

  it('costs O(1) per command: the state is changed in place, never copied', () => {
    const state = kvMachine.init();
    const puts = 100_000;
    for (let i = 0; i < puts; i++) {
      const result = kvMachine.command(state, { op: 'put', key: `k${i}`, value: i });
      // A copy per command (what the machine did before) is O(keys) each: 5 * 10^9 key copies here.
      assert.equal(result.state, state, 'a command returns the state it was given, changed in place');
    }
    assert.equal((kvMachine.query(state, { op: 'keys' }) as string[]).length, puts);
    assert.equal(kvMachine.query(state, { op: 'get', key: 'k99999' }), 99_999);
  });

  it('snapshots to the same bytes whatever order the keys were written in, and restores them', () => {
    const keys = ['b', '10', '__proto__', 'a', '2', 'constructor', 'é'];
    const forward = run(kvMachine, keys.map((key, i) => ({ op: 'put', key, value: [i, key] }))).state;
    // Another replica: the same contents reached another way (a restore, deletes and re-puts).
    const restored = kvMachine.restore(kvMachine.snapshot(forward));
    const other = run(kvMachine, [...keys].reverse().map((key) => ({ op: 'put', key, value: [keys.indexOf(key), key] }))).state;
    const bytes = decoder.decode(kvMachine.snapshot(forward));
    assert.equal(decoder.decode(kvMachine.snapshot(restored)), bytes);
    assert.equal(decoder.decode(kvMachine.snapshot(other)), bytes);
    for (const [i, key] of keys.entries()) assert.deepEqual(kvMachine.query(restored, { op: 'get', key }), [i, key], `key ${key} survives the snapshot`);
    assert.deepEqual(kvMachine.query(restored, { op: 'keys' }), [...keys].sort());
    // A restored state is a working state: a put changes it, and the old snapshot is unaffected.
    kvMachine.command(restored, { op: 'put', key: '__proto__', value: 'x' });
    assert.equal(kvMachine.query(restored, { op: 'get', key: '__proto__' }), 'x');
    assert.equal(decoder.decode(kvMachine.snapshot(forward)), bytes);
  });

  it('restores a snapshot of the object form it always had, and refuses one that is not an object', () => {
    const state = kvMachine.restore(new TextEncoder().encode('{"x":1,"y":{"z":[2]}}'));
    assert.deepEqual(kvMachine.query(state, { op: 'get', key: 'y' }), { z: [2] });
    assert.throws(() => kvMachine.restore(new TextEncoder().encode('[1,2]')), /JSON object/);
    assert.throws(() => kvMachine.restore(new TextEncoder().encode('null')), /JSON object/);
  });
});
