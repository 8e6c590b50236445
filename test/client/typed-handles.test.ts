// Issue 17, point 9 at run time: host.group(name, machine) and client.group(name, machine) call
// the group by name with the machine's own types (group-handle.types.ts checks the types), with
// the same replies, consistencies and errors as host.command / client.command.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type Client } from '../../src/client/client.js';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { bank } from '../host/fixtures/typed-bank.js';

const SECRET = 'typed handles secret';

describe('typed group handles', () => {
  let host: Host;
  let client: Client;

  before(async () => {
    host = await Host.start({ id: 'h1', listen: '127.0.0.1:0', storage: 'memory', secret: SECRET, machines: { bank }, tickMs: 20 });
    await host.activate('a');
    await host.addGroup('account', { machine: 'bank', replicas: 1 });
    client = await connect({ hosts: [host.address], secret: SECRET, timeoutMs: 10_000 });
  });

  after(async () => {
    await client.close();
    await host.stop();
  });

  it('command and query the group through a host and a client', async () => {
    const onHost = host.group('account', bank);
    const onClient = client.group('account', bank);
    assert.equal(onHost.name, 'account');
    assert.equal(await onHost.command({ op: 'deposit', amount: 10 }), 10);
    assert.equal(await onClient.command({ op: 'withdraw', amount: 4 }), 6);
    assert.equal(await onClient.query({ op: 'balance' }), 6);
    assert.equal(await onHost.query({ op: 'balance' }, { consistency: 'local' }), 6);
    assert.equal(await onClient.query({ op: 'balance' }, { consistency: 'lease', timeoutMs: 5000 }), 6);
    for (const handle of [onHost, onClient]) {
      await assert.rejects(handle.command({ op: 'withdraw', amount: 100 }), (err) => isFlotillaError(err, 'COMMAND_FAILED') && err.machineCode === 'INSUFFICIENT_FUNDS');
    }
    // What the types cannot stop (a cast, plain JavaScript) is checked at run time as before.
    await assert.rejects(onClient.query({ op: 'balance' }, { consistency: 'eventual' as 'local' }), (err) => isFlotillaError(err, 'BAD_ARGUMENT'));
    await assert.rejects(host.group('no-such', bank).command({ op: 'deposit', amount: 1 }), (err) => isFlotillaError(err, 'NO_SUCH_GROUP'));
  });

  it('refuses a name no group can have at once', () => {
    assert.throws(() => host.group('bad name!', bank), (err) => isFlotillaError(err, 'BAD_NAME'));
    assert.throws(() => client.group('', bank), (err) => isFlotillaError(err, 'BAD_NAME'));
  });
});
