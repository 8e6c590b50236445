// A machine whose snapshot or restore throws does not stop its group (issue 14: a snapshot's
// JSON.stringify threw RangeError on all 3 hosts at once, and the group stopped for good): the group
// keeps committing from its log, reports itself degraded and logs once, tries again later; a
// replica whose snapshot does not restore stays out of the group until a restart brings it back.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { isFlotillaError } from '../../src/common/errors.js';
import { newGroupCounters, type GroupCounters } from '../../src/group/group.js';
import type { StateMachine } from '../../src/group/state-machine.js';
import { openLogStore } from '../../src/storage/open-store.js';
import type { MemoryLogStore } from '../../src/storage/memory-store.js';
import { TestFleet, listMachine, sleep, waitFor, type ListCommand } from '../loop/harness.js';
import { tuning } from './helpers.js';

const HOSTS = ['a', 'b', 'c'];
const G = 3;
const EVERY = 5;

/** What the machine refuses, on every replica alike (as a deterministic machine would). */
const faults = { snapshot: false, restore: false };

const flaky: StateMachine<string[], ListCommand, number, null> = {
  ...listMachine,
  snapshot(state) {
    if (faults.snapshot) throw new RangeError('Maximum call stack size exceeded');
    return listMachine.snapshot(state);
  },
  restore(bytes) {
    if (faults.restore) throw new SyntaxError('bad snapshot');
    return listMachine.restore(bytes);
  },
};

interface LogLine {
  host: string;
  level: number;
  msg: string;
}

let fleet: TestFleet;
let logs: LogLine[] = [];
const counters = new Map<string, GroupCounters>();
const stores = new Map<string, MemoryLogStore>();

async function startHost(host: string, mode: 'create' | 'restore', keepEntries = 0): Promise<void> {
  const logger = pino({ level: 'info' }, { write: (line: string) => logs.push({ host, ...(JSON.parse(line) as { level: number; msg: string }) }) });
  await fleet.startHost(host, stores.get(host)!, [G], mode, tuning({ machine: flaky, snapshotEvery: EVERY, keepEntries, logger, counters: counters.get(host)! }));
}

async function startFleet(keepEntries = 0): Promise<void> {
  fleet = new TestFleet(HOSTS);
  for (const host of HOSTS) {
    stores.set(host, await openLogStore({ engine: 'memory' }));
    counters.set(host, newGroupCounters());
    await startHost(host, 'create', keepEntries);
  }
}

/** Stops `host` as a crash would, and starts it again on its store. */
async function restart(host: string): Promise<void> {
  await fleet.stopHost(host);
  const store = stores.get(host)!;
  store.crash();
  await store.open();
  await startHost(host, 'restore');
}

async function append(values: string[]): Promise<void> {
  for (const value of values) await fleet.command(G, { op: 'append', value });
}

function errorsLogged(host: string, msg: RegExp): number {
  return logs.filter((l) => l.host === host && l.level >= 50 && msg.test(l.msg)).length;
}

const values = (from: number, to: number): string[] => Array.from({ length: to - from }, (_, i) => `v${from + i}`);

afterEach(async () => {
  faults.snapshot = false;
  faults.restore = false;
  await fleet.stopAll();
});

describe('a machine whose snapshot or restore throws', () => {
  it('leaves its group committing from an uncompacted log, degraded and logged once, until a snapshot works again', async () => {
    logs = [];
    await startFleet();
    faults.snapshot = true;
    // Snapshots are due at 5, 10, then (backing off) 20 and 40: all of them throw.
    await append(values(0, 30));
    await waitFor('every replica to apply 30', () => HOSTS.every((h) => fleet.group(h, G).state.length === 30));
    for (const host of HOSTS) {
      const group = fleet.group(host, G);
      const degraded = group.health().degraded;
      assert.ok(degraded !== null, `${host} reports itself degraded`);
      // At 20 after 3 attempts (at 40 after 4 if elections added entries).
      const attempts = counters.get(host)!.snapshotFailures;
      assert.match(degraded.reason, new RegExp(`^snapshot failed at index ${[5, 10, 20, 40][attempts - 1]} \\(${attempts} attempts in a row\\): RangeError: Maximum call stack size exceeded; log not compacted`));
      assert.equal(group.health().stalled, false);
      assert.equal(group.raftForTests.compactedTo, 0, `${host} compacted nothing`);
      assert.ok(attempts === 3 || attempts === 4, `${host}: ${attempts} attempts`);
      assert.equal(errorsLogged(host, /^snapshot failed/), 1, `${host} logged the failure once for the streak`);
    }
    // A replica restarted meanwhile replays its whole log, and fails the same snapshots again.
    await restart('c');
    await waitFor('c to apply 30 again', () => fleet.group('c', G).state.length === 30);
    assert.deepEqual(fleet.group('c', G).state, values(0, 30));
    assert.notEqual(fleet.group('c', G).health().degraded, null);

    // The next attempt is due at 40 (later if leader changes added entries): commands get there.
    faults.snapshot = false;
    const recovered = (): boolean => HOSTS.every((h) => fleet.group(h, G).health().degraded === null && fleet.group(h, G).raftForTests.compactedTo >= 40);
    let n = 30;
    for (const deadline = Date.now() + 10_000; !recovered(); n++) {
      assert.ok(Date.now() < deadline, 'timed out waiting for every replica to snapshot again and clear degraded');
      await append(values(n, n + 1));
      await sleep(5);
    }
    await waitFor(`every replica to apply ${n}`, () => HOSTS.every((h) => fleet.group(h, G).state.length === n));
    for (const host of HOSTS) assert.deepEqual(fleet.group(host, G).state, values(0, n));
    assert.ok(logs.some((l) => l.host === 'a' && /^snapshots work again/.test(l.msg)));
  });

  it('says loudly that the log is growing once snapshots have failed long enough', async () => {
    logs = [];
    await startFleet();
    faults.snapshot = true;
    // Failures at 5, 10, 20, 40: the log holds 4 x snapshotEvery uncompacted entries at 20.
    await append(values(0, 42));
    await waitFor('every replica to apply 42', () => HOSTS.every((h) => fleet.group(h, G).appliedIndex >= 42));
    for (const host of HOSTS) {
      assert.equal(errorsLogged(host, /^log growing/), 2, `${host}: at 20 (4 x 5 entries) and at 40 (8 x 5)`);
      assert.equal(errorsLogged(host, /^snapshot failed/), 1);
    }
  });

  it('stalls a replica whose stored snapshot does not restore at its restart: the others go on, a restart with a working machine brings it back', async () => {
    logs = [];
    await startFleet();
    await append(values(0, 12));
    await waitFor('snapshots at 10 in every store', () => HOSTS.every((h) => fleet.group(h, G).raftForTests.compactedTo >= 10 && !fleet.group(h, G).hasWork()));
    faults.restore = true;
    await restart('c'); // used to throw out of Group.restore: the host could not start
    const stalled = fleet.group('c', G);
    assert.equal(stalled.health().stalled, true);
    assert.match(stalled.health().degraded?.reason ?? '', /^restore failed: SyntaxError: bad snapshot: this replica cannot apply/);
    assert.equal(counters.get('c')!.restoreFailures, 1);
    assert.equal(errorsLogged('c', /^snapshot restore failed/), 1);
    await assert.rejects(stalled.query(null, { consistency: 'local' }), (err) => isFlotillaError(err, 'UNAVAILABLE') && /does not restore/.test(err.message));

    // The other two are a quorum: the group goes on without it, and it takes no part.
    const lastIndex = stalled.lastIndex;
    await append(values(12, 20));
    assert.equal(fleet.leader(G)?.memberId !== 'c', true);
    assert.equal(stalled.lastIndex, lastIndex, 'the stalled replica appended nothing');
    assert.equal(stalled.appliedIndex, 0);
    assert.equal(fleet.loops.get('c')!.failed, null, 'its host loop runs on');

    faults.restore = false;
    await restart('c');
    await waitFor('c to catch up', () => fleet.group('c', G).state.length === 20);
    assert.deepEqual(fleet.group('c', G).state, values(0, 20));
    assert.equal(fleet.group('c', G).health().degraded, null);
  });

  it("stalls a follower that cannot restore its leader's snapshot, and the group goes on", async () => {
    logs = [];
    await startFleet();
    await append(['first']);
    await waitFor('every replica to apply it', () => HOSTS.every((h) => fleet.group(h, G).state.length === 1));
    const lagging = HOSTS.find((h) => fleet.leader(G)?.memberId !== h)!;
    fleet.isolated.add(lagging);
    await append(values(1, 16)); // snapshots at 5, 10, 15 compact the log the lagging one needs
    faults.restore = true;
    fleet.isolated.delete(lagging);
    await waitFor(`${lagging} to stall on the leader's snapshot`, () => fleet.group(lagging, G).health().stalled);
    assert.match(fleet.group(lagging, G).health().degraded?.reason ?? '', /^restore failed: SyntaxError/);
    assert.deepEqual(fleet.group(lagging, G).state, ['first'], `${lagging} at ${fleet.group(lagging, G).appliedIndex}: it keeps the state it had, at the index it had`);
    await append(values(16, 20));
    assert.equal(fleet.loops.get(lagging)!.failed, null);

    faults.restore = false;
    await restart(lagging);
    await waitFor(`${lagging} to catch up`, () => fleet.group(lagging, G).state.length === 20);
    assert.deepEqual(fleet.group(lagging, G).state, ['first', ...values(1, 20)]);
  });
});
