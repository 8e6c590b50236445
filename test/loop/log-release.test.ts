// Groups whose Raft releases durable, applied entries from memory (a LogReader over the host's
// store, as every Host's replicas have): the log held in memory stays at what is in flight, and a
// follower that was cut off is caught up from entries read back from the store, without a snapshot.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { Role } from '../../src/raft/types.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TICK_MS, TestFleet, sleep, waitFor } from './harness.js';

const HOSTS = ['h1', 'h2', 'h3'];
let fleet: TestFleet | undefined;

afterEach(async () => {
  await fleet?.stopAll();
  fleet = undefined;
});

describe('a log released from memory', () => {
  it('holds only what is in flight, and catches a follower up from the store after it was cut off', async () => {
    const f = new TestFleet(HOSTS, { releaseLog: true });
    fleet = f;
    for (const host of HOSTS) await f.startHost(host, await openLogStore({ engine: 'memory' }), [1], 'create');
    for (let i = 0; i < 20; i++) await f.command(1, { op: 'append', value: `a${i}` });
    const leader = f.leader(1)!;
    const lagging = HOSTS.map((h) => f.group(h, 1)).find((g) => g.role !== Role.Leader)!;
    const laggingHost = HOSTS.find((h) => f.group(h, 1) === lagging)!;
    await waitFor('every replica released what all have', () => HOSTS.every((h) => f.group(h, 1).status().releasedTo >= 15));

    f.isolated.add(laggingHost);
    for (let i = 0; i < 200; i++) await f.command(1, { op: 'append', value: `b${i}` });
    const last = leader.status().lastIndex;
    // The cut-off follower stops counting as in touch within an election timeout; the leader
    // releases past it as the next commands apply.
    let after = 0;
    const deadline = Date.now() + 10_000;
    while (leader.status().releasedTo < last) {
      assert.ok(Date.now() < deadline, `the leader released only to ${leader.status().releasedTo} of ${last}`);
      await f.command(1, { op: 'append', value: `after${after++}` });
      await sleep(TICK_MS);
    }
    assert.ok(lagging.status().lastIndex < last - 150, `the follower is behind: ${lagging.status().lastIndex} of ${last}`);
    assert.equal(leader.status().firstIndex, 1, 'nothing was compacted: no snapshot is needed');

    f.isolated.delete(laggingHost);
    const final = leader.status().lastIndex;
    await waitFor('the follower caught up', () => lagging.status().applied >= final);
    assert.equal(lagging.status().firstIndex, 1, 'caught up from the log, not a snapshot');
    assert.deepEqual(lagging.state, leader.state, 'the same values, in order');
    assert.equal(lagging.state.length, 220 + after);
  });
});
