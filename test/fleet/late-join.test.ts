// A host that joins long after the cluster leader's process started is not marked failed as it
// joins: its silence counts from when the fleet learned of it, not from the leader's start (the
// multi-process test caught a joining host marked failed at once, which then never got the
// cluster replica that would have made it ping, and never became active). The race is between
// the first failure check and the first answer from the new host, so the test joins several times.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestFleet } from './harness.js';

describe('Host: a host joining a fleet that has run for a while', () => {
  it('is never marked failed while it joins', async () => {
    for (let round = 0; round < 6; round++) {
      const fleet = new TestFleet();
      try {
        const h1 = await fleet.start('h1', []);
        await h1.activate('a');
        // Longer than hostFailureTimeoutMs (1000 ms in the harness).
        await new Promise((resolve) => setTimeout(resolve, 1200));
        const h2 = await fleet.start('h2', ['h1@h1']);
        const states = new Set<string>();
        const watch = setInterval(() => {
          for (const h of Object.values(h1.hosts()).flat()) if (h.id === 'h2') states.add(h.state);
        }, 2);
        try {
          await h2.activate('b', { timeoutMs: 10_000 });
        } finally {
          clearInterval(watch);
        }
        assert.ok(!states.has('failed'), `round ${round}: h2 went through ${[...states].join(', ')}`);
      } finally {
        await fleet.stopAll();
      }
    }
  });
});
