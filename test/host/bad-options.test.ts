// Issue 17, point 8, in part: Host.start checks its machines before opening anything, naming what
// is wrong (it threw a raw TypeError without `machines`), and activate() in another zone than the
// host is active in is an error, not a silent no-op.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import { counter, TestFleet } from '../fleet/harness.js';

const refused = (pattern: RegExp) => (err: unknown) => isFlotillaError(err, 'BAD_ARGUMENT') && pattern.test(err.message);

describe('Host.start: machines', () => {
  const start = (machines: unknown) => Host.start({ id: 'h1', storage: 'memory', secret: 's', machines: machines as never });

  it('refuses a missing or malformed machines option with BAD_ARGUMENT naming it', async () => {
    await assert.rejects(start(undefined), refused(/^machines must be an object of state machines by name \(got undefined\)$/));
    await assert.rejects(start(null), refused(/\(got null\)/));
    await assert.rejects(start([counter]), refused(/\(got an array\)/));
    await assert.rejects(start({ orders: 7 }), refused(/^machine orders must be an object with init, command, query, snapshot, restore$/));
    const { snapshot: _snapshot, restore: _restore, ...half } = counter;
    await assert.rejects(start({ orders: half }), refused(/^machine orders lacks snapshot, restore \(a state machine has/));
    await assert.rejects(start({ 'bad name': counter }), (err) => isFlotillaError(err, 'BAD_NAME'));
  });

  it('starts with well-formed machines', async () => {
    const host = await start({ orders: counter });
    await host.stop();
  });
});

describe('Host.activate in another zone', () => {
  const fleet = new TestFleet();
  after(() => fleet.stopAll());

  it('is refused while the host is active in its zone; the same zone is a no-op', async () => {
    const [h1] = await fleet.activate(1);
    await assert.rejects(h1!.activate('b'), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && /host h1 is active in zone a, not b: deactivate it first/.test(err.message) && err.details.zone === 'a');
    await h1!.activate('a');
    assert.equal(h1!.status().state, 'active');
  });
});
