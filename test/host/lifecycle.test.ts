// A host's lifecycle without restarts: deactivated (drained), then activated again in the same
// process; activated again while still draining (the drain is cancelled); moved to another zone
// once drained (and refused while draining).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isFlotillaError } from '../../src/common/errors.js';
import type { Host } from '../../src/host/host.js';
import { TestFleet, waitFor } from '../fleet/harness.js';

const GROUPS = 8;

/** The host's zone and state as `asker`'s copy of the metadata has them. */
function seenAs(asker: Host, id: string): string | undefined {
  for (const [zone, hosts] of Object.entries(asker.hosts())) {
    const h = hosts.find((x) => x.id === id);
    if (h !== undefined) return `${zone}:${h.state}`;
  }
  return undefined;
}

/** Voter replicas of user groups the host holds now. */
function votersOn(host: Host): number {
  return host.status().members.filter((m) => !m.group.startsWith('$') && m.role !== 'learner').length;
}

describe('Host: deactivate, then activate again without a restart', () => {
  const fleet = new TestFleet();
  before(async () => {
    await fleet.activate(4);
    for (let g = 0; g < GROUPS; g++) await fleet.host('h1').addGroup(`g${g}`, { machine: 'counter' });
  });
  after(() => fleet.stopAll());

  it('serves members again: placement puts them back, command and whereIsLeader work through it', async () => {
    const h3 = fleet.host('h3');
    await waitFor('h3 holds voters', () => votersOn(h3) > 0);
    await h3.deactivate();
    assert.equal(h3.localState, 'inactive');
    assert.equal(h3.memberCount, 0);
    await assert.rejects(h3.whereIsLeader('g0'), (e) => isFlotillaError(e, 'NOT_ACTIVE'));

    await h3.activate('a');
    assert.equal(h3.localState, 'active');
    await waitFor('h1 sees h3 active', () => seenAs(fleet.host('h1'), 'h3') === 'a:active');
    const placedOnH3 = [...Array(GROUPS).keys()].map((g) => `g${g}`).filter((g) => h3.placement(g).includes('h3'));
    assert.ok(placedOnH3.length > 0, 'placement puts groups on h3 again');
    await waitFor('h3 holds voters of every group placed on it', () => placedOnH3.every((g) => h3.status().members.some((m) => m.group === g && m.role !== 'learner')));
    for (let g = 0; g < GROUPS; g++) assert.equal(typeof (await h3.command(`g${g}`, { op: 'inc', by: 1 })), 'number');
    assert.ok((await h3.whereIsLeader('g0')) !== null);
  });

  it('activated again while draining: the drain is cancelled, its deactivate() rejects, the host stays active', async () => {
    const h2 = fleet.host('h2');
    await waitFor('h2 holds voters', () => votersOn(h2) > 0);
    let activating: Promise<void> | undefined;
    const progress: number[] = [];
    // Activated at the drain's first report, while it still holds members.
    const drain = h2.deactivate({
      onProgress: (left) => {
        progress.push(left);
        activating ??= h2.activate('b');
      },
    });
    await assert.rejects(drain, (e) => isFlotillaError(e, 'BAD_ARGUMENT') && /cancelled/.test(e.message));
    assert.ok(activating !== undefined && progress[0]! > 0);
    await activating;
    assert.equal(h2.localState, 'active');
    await waitFor('h1 sees h2 active', () => seenAs(fleet.host('h1'), 'h2') === 'b:active');
    await waitFor('h2 holds voters again', () => votersOn(h2) > 0);
    for (let g = 0; g < GROUPS; g++) await h2.command(`g${g}`, { op: 'inc', by: 1 });
  });

  it('moves to another zone only once drained: refused BAD_ARGUMENT while draining', async () => {
    const h4 = fleet.host('h4');
    let refused: Promise<unknown> | undefined;
    await h4.deactivate({ onProgress: () => void (refused ??= h4.activate('a').then(() => 'activated', (e: unknown) => e)) });
    const outcome = await refused;
    assert.ok(isFlotillaError(outcome, 'BAD_ARGUMENT') && /draining from zone b/.test(outcome.message), String(outcome));
    assert.equal(h4.localState, 'inactive');
    await h4.activate('a');
    await waitFor('h1 sees h4 active in zone a', () => seenAs(fleet.host('h1'), 'h4') === 'a:active');
    await h4.command('g1', { op: 'inc', by: 1 });
    // Active in a now: another zone again needs a deactivate first.
    await assert.rejects(h4.activate('b'), (e) => isFlotillaError(e, 'BAD_ARGUMENT'));
  });
});
