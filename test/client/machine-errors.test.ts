// Issue 17, point 8: a service branches on its machine's own error codes. A 3-host fleet on the ws
// transport runs a bank whose withdraw throws MachineError('INSUFFICIENT_FUNDS', ..., details):
// the leader's host, a host that forwards to the leader, and a client over the wire all get
// COMMAND_FAILED with the same machineCode, machineDetails and message; so does a query.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';
import { connect, type Client } from '../../src/client/client.js';
import { FlotillaError, MachineError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import type { AnyMachine } from '../../src/host/options.js';
import { activateThreeHosts } from '../fixtures/three-hosts.js';

const SECRET = 'machine errors secret';

const bank: AnyMachine = {
  init: () => ({ balance: 10 }),
  command(state, cmd) {
    const s = state as { balance: number };
    const c = cmd as { withdraw: number };
    if (c.withdraw > s.balance) throw new MachineError('INSUFFICIENT_FUNDS', `balance ${s.balance} is below ${c.withdraw}`, { balance: s.balance, asked: c.withdraw });
    return { state: { balance: s.balance - c.withdraw }, reply: s.balance - c.withdraw };
  },
  query(state, q) {
    if (q !== 'balance') throw new MachineError('UNKNOWN_QUERY', `no query ${String(q)}`);
    return (state as { balance: number }).balance;
  },
  snapshot: (s) => new TextEncoder().encode(JSON.stringify(s)),
  restore: (b) => JSON.parse(new TextDecoder().decode(b)) as unknown,
};

async function startHost(id: string, join: string[]): Promise<Host> {
  return Host.start({ id, listen: '127.0.0.1:0', join, storage: 'memory', secret: SECRET, machines: { bank }, tickMs: 20, reconcileMs: 50, hostFailureTimeoutMs: 2000 });
}

async function failure(p: Promise<unknown>): Promise<Pick<FlotillaError, 'code' | 'message' | 'machineCode' | 'machineDetails'>> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FlotillaError, String(err));
    return { code: err.code, message: err.message, machineCode: err.machineCode, machineDetails: err.machineDetails };
  }
  assert.fail('expected a rejection');
}

describe('machine error codes across the fleet', () => {
  const hosts: Host[] = [];
  let client: Client;

  before(async () => {
    hosts.push(...(await activateThreeHosts(startHost)));
    await hosts[0]!.addGroup('account', { machine: 'bank', replicas: 3 });
    client = await connect({ hosts: hosts.map((h) => h.address), secret: SECRET, timeoutMs: 10_000 });
  });

  after(async () => {
    await client.close();
    for (const h of hosts) await h.stop();
  });

  it('reach the leader host, a forwarding host and a client alike, for commands and queries', async () => {
    assert.equal(await client.command('account', { withdraw: 3 }), 7);
    const leaderId = await hosts[0]!.whereIsLeader('account');
    const leader = hosts.find((h) => h.id === leaderId)!;
    const follower = hosts.find((h) => h.id !== leaderId)!;
    const expected = {
      code: 'COMMAND_FAILED',
      message: 'balance 7 is below 50',
      machineCode: 'INSUFFICIENT_FUNDS',
      machineDetails: { balance: 7, asked: 50 },
    };
    assert.deepEqual(await failure(leader.command('account', { withdraw: 50 })), expected);
    assert.deepEqual(await failure(follower.command('account', { withdraw: 50 })), expected);
    assert.deepEqual(await failure(client.command('account', { withdraw: 50 })), expected);
    // Nothing was withdrawn by the refused commands.
    assert.equal(await client.query('account', 'balance'), 7);

    const query = { code: 'COMMAND_FAILED', message: 'no query owner', machineCode: 'UNKNOWN_QUERY', machineDetails: undefined };
    assert.deepEqual(await failure(client.query('account', 'owner')), query);
    assert.deepEqual(await failure(follower.query('account', 'owner')), query);
    assert.deepEqual(await failure(follower.query('account', 'owner', { consistency: 'local' })), query);
    // An error that is not the machine's carries no machine code.
    const other = await failure(client.command('no-such-account', { withdraw: 1 }));
    assert.equal(other.code, 'NO_SUCH_GROUP');
    assert.equal(other.machineCode, undefined);
  });

  it('are printed by the flotilla command, after the message', async () => {
    let stderr = '';
    const io = { stdout: { write: () => true }, stderr: { write: (text: string) => (stderr += text) } };
    const env = { FLOTILLA_HOSTS: hosts[0]!.address, FLOTILLA_SECRET: SECRET };
    assert.equal(await main(['command', 'account', '{"withdraw":500}'], env, io), 1);
    assert.match(stderr, /^flotilla: COMMAND_FAILED: balance \d+ is below 500 \[INSUFFICIENT_FUNDS \{"balance":\d+,"asked":500\}\]\n$/);
  });
});
