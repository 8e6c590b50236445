// A group's config (addGroup's `config`): snapshotEvery, maxLogBytes and maxPendingCommands are
// positive integers, anything else is BAD_ARGUMENT (host/options.ts); the cluster machine refuses a
// malformed one that reaches it another way (fleet/cluster-protocol.ts), and the replica factory
// hands maxLogBytes to the group it builds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { clusterMachine } from '../../src/fleet/cluster-machine.js';
import { checkGroupConfig } from '../../src/host/options.js';

const badArgument = (pattern: RegExp) => (err: unknown): boolean => {
  assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'), String(err));
  assert.match(err.message, pattern);
  return true;
};

describe('group config', () => {
  it('takes positive integers for snapshotEvery, maxLogBytes and maxPendingCommands', () => {
    const config = { snapshotEvery: 100, maxLogBytes: 65_536, maxPendingCommands: 10 };
    assert.deepEqual(checkGroupConfig(config), config);
    assert.deepEqual(checkGroupConfig({ maxLogBytes: 1 }), { maxLogBytes: 1 });
  });

  it('refuses a bad maxLogBytes (and any unknown key) with BAD_ARGUMENT', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, '512', null]) {
      assert.throws(() => checkGroupConfig({ maxLogBytes: bad } as never), badArgument(/^group config maxLogBytes must be a positive integer$/), String(bad));
    }
    assert.throws(() => checkGroupConfig({ maxLogbytes: 5 } as never), badArgument(/^unknown group config maxLogbytes$/));
  });

  it('is refused by the cluster machine when maxLogBytes is not a number', () => {
    const s = clusterMachine.init();
    clusterMachine.command(s, { op: 'activateHost', id: 'h1', zone: 'a', address: 'h1:1', incarnation: 'i1', activation: 'a1' });
    const { reply } = clusterMachine.command(s, { op: 'addGroup', name: 'g', machine: 'counter', replicas: 1, config: { maxLogBytes: '5' } } as never);
    assert.ok(!reply.ok && reply.code === 'BAD_ARGUMENT' && /config\.maxLogBytes is the string "5", not a number/.test(reply.message), JSON.stringify(reply));
    const ok = clusterMachine.command(s, { op: 'addGroup', name: 'g', machine: 'counter', replicas: 1, config: { maxLogBytes: 4096 } });
    assert.ok(ok.reply.ok, JSON.stringify(ok.reply));
  });
});
