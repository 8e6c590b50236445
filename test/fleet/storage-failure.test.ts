// A host whose disk fails (full, or an I/O error) stops writing for good (fail-stop): its groups
// answer STORAGE_FAILED and the host stops itself, so the fleet sees it go silent, marks it
// failed, elects leaders elsewhere for the groups it led and replaces its members; the other
// hosts keep taking commands for every group.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { TestFleet, waitFor } from './harness.js';

describe('Host: a disk that fails', () => {
  const fleet = new TestFleet();
  before(async () => {
    await fleet.activate(4);
  });
  after(() => fleet.stopAll());

  it('is fail-stop on that host; the fleet marks it failed and moves on', async () => {
    const h1 = fleet.host('h1');
    await h1.addGroup('orders', { machine: 'counter', replicas: 3 });
    assert.equal(await h1.command('orders', { op: 'inc', by: 1 }), 1);
    const leader = await h1.whereIsLeader('orders');
    assert.ok(leader !== null);
    const broken = fleet.host(leader);
    const survivor = [...fleet.hosts.values()].find((h) => h.id !== leader && h.id !== 'h1') ?? h1;
    fleet.disks.get(leader)!.failNextWrite(new Error('ENOSPC: no space left on device'));
    // The leader's write fails and its loop stops: the attempt there ends with its outcome unknown
    // (the entry went to the followers) and the router retries it (same session) on the other
    // replicas, which elect a leader once the broken one's heartbeats stop. It applies once.
    assert.equal(await survivor.command('orders', { op: 'inc', by: 1 }, { timeoutMs: 5000 }), 2);
    await waitFor(`${leader} to stop itself`, () => broken.localState === 'stopped', 5000);
    await assert.rejects(broken.command('orders', { op: 'inc', by: 1 }), (e) => isFlotillaError(e, 'SHUTTING_DOWN'));
    await waitFor(`${leader} to be marked failed`, () => Object.values(survivor.hosts()).flat().find((h) => h.id === leader)?.state === 'failed', 15_000);
    await waitFor('orders to take commands again', async () => {
      try {
        await survivor.command('orders', { op: 'inc', by: 10 }, { timeoutMs: 1000 });
        return true;
      } catch {
        return false;
      }
    });
    const value = await survivor.query<number>('orders', null);
    assert.ok(value >= 12 && value % 10 === 2, `orders is ${value}: 2, then only increments of 10 (a timed-out one may have applied)`);
    await waitFor('orders placed off the failed host', () => !survivor.placement('orders').includes(leader));
  });
});
