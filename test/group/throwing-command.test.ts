// What a command that throws leaves behind (state-machine.ts StateMachine.command): the group keeps
// the state it passed in. Built anew, it is unchanged; changed in place before the throw, the
// change stays, on every replica alike and after a replay from the log.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import type { StateMachine } from '../../src/group/state-machine.js';
import { openLogStore } from '../../src/storage/open-store.js';
import type { MemoryLogStore } from '../../src/storage/memory-store.js';
import { TestFleet, listMachine, waitFor, type ListCommand } from '../loop/harness.js';
import { tuning } from './helpers.js';

const HOSTS = ['a', 'b', 'c'];
const G = 4;

/** Appends in place, then throws for a value starting with '!': the half-done change of the contract. */
const inPlace: StateMachine<string[], ListCommand, number, null> = {
  ...listMachine,
  command(state, cmd) {
    if (cmd.op === 'fail') throw new Error(cmd.message);
    state.push(cmd.value);
    if (cmd.value.startsWith('!')) throw new Error('refused after changing the state');
    return { state, reply: state.length };
  },
};

let fleet: TestFleet;
const stores = new Map<string, MemoryLogStore>();

afterEach(() => fleet.stopAll());

describe('a command that throws', () => {
  it('leaves a state it built anew unchanged, and a change it made in place before the throw, on every replica alike', async () => {
    fleet = new TestFleet(HOSTS);
    for (const host of HOSTS) {
      stores.set(host, await openLogStore({ engine: 'memory' }));
      await fleet.startHost(host, stores.get(host)!, [G], 'create', tuning({ machine: inPlace }));
    }
    await fleet.command(G, { op: 'append', value: 'x' });
    await assert.rejects(fleet.command(G, { op: 'fail', message: 'checked first' }), (err) => isFlotillaError(err, 'COMMAND_FAILED'));
    await assert.rejects(fleet.command(G, { op: 'append', value: '!half' }), (err) => isFlotillaError(err, 'COMMAND_FAILED') && /refused after changing/.test(err.message));
    await fleet.command(G, { op: 'append', value: 'y' });
    const expected = ['x', '!half', 'y'];
    await waitFor('every replica to apply 3', () => HOSTS.every((h) => fleet.group(h, G).state.length === 3));
    for (const host of HOSTS) assert.deepEqual(fleet.group(host, G).state, expected, host);

    // Replayed from the log after a restart, the same command leaves the same change.
    await fleet.stopHost('c');
    await fleet.startHost('c', stores.get('c')!, [G], 'restore', tuning({ machine: inPlace }));
    await waitFor('c to replay its log', () => fleet.group('c', G).state.length === 3);
    assert.deepEqual(fleet.group('c', G).state, expected);
  });
});
