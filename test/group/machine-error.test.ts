// Issue 17, point 8: a state machine's error with a `code` (and `details`) reaches the caller as
// COMMAND_FAILED with machineCode and machineDetails, the same on every replica, for a retry
// answered from the session table (also after the table went through a snapshot), and for a
// query; details out of bounds give a clear COMMAND_FAILED without code.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { FlotillaError, MAX_MACHINE_CODE_BYTES, MAX_MACHINE_DETAILS_BYTES, MachineError } from '../../src/common/errors.js';
import type { Outcome } from '../../src/group/group.js';
import { machineFailure } from '../../src/group/machine-error.js';
import { SessionTable } from '../../src/group/sessions.js';
import type { StateMachine } from '../../src/group/state-machine.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, listMachine, waitFor, type ListCommand } from '../loop/harness.js';
import { atLeader, tuning } from './helpers.js';

const HOSTS = ['a', 'b', 'c'];
const G = 5;

/** `fail` throws a MachineError whose code is the message; a value 'big' gives details over the bound. */
const coded: StateMachine<string[], ListCommand, number, null> = {
  ...listMachine,
  command(state, cmd) {
    if (cmd.op === 'fail') throw new MachineError(cmd.message, `refused: ${cmd.message}`, { have: state.length, dropped: undefined });
    if (cmd.value === 'big') throw new MachineError('TOO_BIG', 'refused', { blob: 'x'.repeat(MAX_MACHINE_DETAILS_BYTES) });
    if (cmd.value === 'plain') throw Object.assign(new Error('with a code property'), { code: 'PLAIN_CODE' });
    return listMachine.command(state, cmd);
  },
  query(state) {
    throw new MachineError('NO_QUERIES', 'this machine answers no query', { size: state.length });
  },
};

let fleet: TestFleet;
afterEach(() => fleet.stopAll());

async function rejection(p: Promise<unknown>): Promise<FlotillaError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FlotillaError, String(err));
    return err;
  }
  assert.fail('expected a rejection');
}

describe('a machine error with a code', () => {
  it('is COMMAND_FAILED with machineCode and machineDetails, the same on every replica and for a retry from the session table', async () => {
    fleet = new TestFleet(HOSTS);
    const outcomes = new Map<string, Outcome<unknown>[]>(HOSTS.map((h) => [h, []]));
    for (const host of HOSTS) {
      await fleet.startHost(host, await openLogStore({ engine: 'memory' }), [G], 'create', tuning({ machine: coded, onApply: (_i, o) => outcomes.get(host)!.push(o) }));
    }
    await atLeader(fleet, G, (g) => g.command({ op: 'append', value: 'x' }));
    const session = { clientId: 'svc', seq: 1, ackedBelow: 0 };
    const err = await rejection(atLeader(fleet, G, (g) => g.command({ op: 'fail', message: 'INSUFFICIENT_FUNDS' }, { session })));
    assert.equal(err.code, 'COMMAND_FAILED');
    assert.equal(err.message, 'refused: INSUFFICIENT_FUNDS');
    assert.equal(err.machineCode, 'INSUFFICIENT_FUNDS');
    // As JSON gives them back: an undefined field is not there, on every path alike.
    assert.deepEqual(err.machineDetails, { have: 1 });

    // The retry is answered from the session table: the machine does not run again, same fields.
    const retried = await rejection(atLeader(fleet, G, (g) => g.command({ op: 'fail', message: 'INSUFFICIENT_FUNDS' }, { session })));
    assert.equal(retried.machineCode, 'INSUFFICIENT_FUNDS');
    assert.deepEqual(retried.machineDetails, { have: 1 });
    assert.equal(retried.message, err.message);

    await waitFor('every replica to apply both commands', () => HOSTS.every((h) => outcomes.get(h)!.length === 2));
    for (const h of HOSTS) {
      assert.deepEqual(outcomes.get(h)![1], { ok: false, error: 'refused: INSUFFICIENT_FUNDS', machineCode: 'INSUFFICIENT_FUNDS', machineDetails: '{"have":1}' }, h);
    }

    // Any error with a string `code` property counts; a plain Error has none.
    const plain = await rejection(atLeader(fleet, G, (g) => g.command({ op: 'append', value: 'plain' })));
    assert.equal(plain.machineCode, 'PLAIN_CODE');
    assert.equal(plain.machineDetails, undefined);

    // Details over the bound: COMMAND_FAILED saying so, with neither code nor details.
    const big = await rejection(atLeader(fleet, G, (g) => g.command({ op: 'append', value: 'big' })));
    assert.equal(big.code, 'COMMAND_FAILED');
    assert.equal(big.machineCode, undefined);
    assert.equal(big.machineDetails, undefined);
    assert.match(big.message, /^refused \(the machine's error code and details were dropped: its details are \d+ bytes of JSON, more than 4096\)$/);

    // A query's machine error carries its code too.
    const q = await rejection(atLeader(fleet, G, (g) => g.query(null)));
    assert.equal(q.code, 'COMMAND_FAILED');
    assert.equal(q.machineCode, 'NO_QUERIES');
    assert.deepEqual(q.machineDetails, { size: 1 });
  });
});

describe('machineFailure', () => {
  it('keeps only a code of 1 to 128 bytes and details with a JSON encoding', () => {
    assert.deepEqual(machineFailure(new Error('no code')), { error: 'no code' });
    assert.deepEqual(machineFailure('a string'), { error: 'a string' });
    assert.deepEqual(machineFailure(Object.assign(new Error('numeric'), { code: 7 })), { error: 'numeric' });
    assert.deepEqual(machineFailure(new MachineError('C', 'm', [1, 'two'])), { error: 'm', machineCode: 'C', machineDetails: '[1,"two"]' });
    assert.match(machineFailure(new MachineError('', 'm')).error, /dropped: a code is 1 to 128 UTF-8 bytes, this one is 0/);
    assert.equal(machineFailure(new MachineError('x'.repeat(MAX_MACHINE_CODE_BYTES), 'm')).machineCode?.length, MAX_MACHINE_CODE_BYTES);
    assert.equal(machineFailure(new MachineError('x'.repeat(MAX_MACHINE_CODE_BYTES + 1), 'm')).machineCode, undefined);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.match(machineFailure(new MachineError('C', 'm', cycle)).error, /^m \(the machine's error code and details were dropped: its details has no JSON encoding: it is circular/);
    assert.match(machineFailure(new MachineError('C', 'm', 10n)).error, /BigInt/);
    // An object without a prototype has no text of its own: still an error, never a crash.
    assert.equal(typeof machineFailure(Object.create(null)).error, 'string');
  });
});

describe('the session table', () => {
  it('keeps a machine code and details through its snapshot encoding, and writes an error without one as before', () => {
    const table = new SessionTable(10, 10);
    const s1 = { clientId: 'c', seq: 1, ackedBelow: 0 };
    const s2 = { clientId: 'c', seq: 2, ackedBelow: 0 };
    const s3 = { clientId: 'c', seq: 3, ackedBelow: 0 };
    table.check(s1);
    table.record(s1, { ok: false, error: 'plain' });
    // The bytes of a table without machine codes, as versions before them wrote it.
    assert.deepEqual([...table.encode()], [0, 0, 0, 1, 0, 1, 99, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 5, 112, 108, 97, 105, 110]);
    table.check(s2);
    table.record(s2, { ok: false, error: 'refused', machineCode: 'LIMIT', machineDetails: '{"max":3}' });
    table.check(s3);
    table.record(s3, { ok: false, error: 'refused', machineCode: 'BARE' });
    const restored = new SessionTable(10, 10);
    restored.restore(table.encode());
    assert.deepEqual(restored.check(s1), { kind: 'cached', outcome: { ok: false, error: 'plain' } });
    assert.deepEqual(restored.check(s2), { kind: 'cached', outcome: { ok: false, error: 'refused', machineCode: 'LIMIT', machineDetails: '{"max":3}' } });
    assert.deepEqual(restored.check(s3), { kind: 'cached', outcome: { ok: false, error: 'refused', machineCode: 'BARE' } });
    assert.deepEqual(restored.encode(), table.encode());
  });
});
