// A host catching up a long log of a slow state machine keeps answering (issue 14, finding 4):
// three host processes hold a group of the `slow` machine (about 1 ms of CPU a command) with 5,000
// commands in its log; a fourth joins, placement moves the group onto it, and it applies the whole
// log as a learner. Applied in one go that is 5 s without a ping answered, and its peers (failure
// timeout 1.5 s) would mark it failed; in slices of the host loop's budget nobody is marked failed.
// The catch-up time and the slowest answer of the catching-up host are printed, not asserted.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { place } from '../../src/fleet/placement.js';
import { ProcessFleet } from './fixtures/process-fleet.js';

const ZONES: Record<string, string> = { h1: 'a', h2: 'b', h3: 'a', h4: 'b' };
const COMMANDS = 5_000;
const IN_FLIGHT = 200;
const PHASE_MS = 60_000;
const HOST_FAILURE_TIMEOUT_MS = 1_500;

/** A group name whose 3 replicas placement puts on h4 once it is active. */
function groupPlacedOnH4(): string {
  const hosts = Object.entries(ZONES).map(([id, zone]) => ({ id, zone }));
  for (let i = 0; ; i++) if (place(`slow-${i}`, 3, hosts).includes('h4')) return `slow-${i}`;
}

describe('a host catching up a long log of a slow machine', () => {
  let fleet: ProcessFleet | undefined;
  let passed = false;
  after(async () => {
    await fleet?.killAll();
    if (fleet === undefined) return;
    if (passed) await rm(fleet.root, { recursive: true, force: true });
    else console.log(`catch-up test failed: data directories and logs kept in ${fleet.root}`);
  });

  it('keeps answering while it applies 5,000 entries of 1 ms each: its peers never mark it failed', { timeout: 180_000 }, async (t: TestContext) => {
    const f = new ProcessFleet(await mkdtemp(join(tmpdir(), 'flotilla-catch-up-')), { tickMs: 50, hostFailureTimeoutMs: HOST_FAILURE_TIMEOUT_MS });
    fleet = f;
    const h1 = await f.start('h1', [], PHASE_MS);
    const seed = `127.0.0.1:${h1.port}`;
    await Promise.all(['h2', 'h3'].map((id) => f.start(id, [seed], PHASE_MS)));
    for (const id of ['h1', 'h2', 'h3']) await f.call(id, 'activate', { zone: ZONES[id]! }, PHASE_MS);
    const group = groupPlacedOnH4();
    await f.call('h1', 'addGroup', { name: group, machine: 'slow', replicas: 3 }, PHASE_MS);

    // The log: 5,000 commands, IN_FLIGHT at a time (each applies in about 1 ms on every replica).
    const tWrite = performance.now();
    let sent = 0;
    const writer = async (): Promise<void> => {
      while (sent < COMMANDS) {
        sent++;
        await f.call('h1', 'command', { name: group, cmd: { op: 'incr' }, timeoutMs: 30_000 }, PHASE_MS);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, writer));
    t.diagnostic(`${COMMANDS} commands of the slow machine applied in ${Math.round(performance.now() - tWrite)} ms`);

    const statuses = await f.statuses(PHASE_MS);
    const commit = Math.max(...statuses.map((s) => s.members.find((m) => m.group === group)?.commit ?? 0));
    assert.ok(commit > COMMANDS, `the log holds the ${COMMANDS} commands (commit ${commit})`);

    // h4 joins; the reconciler adds it to the group as a learner, which replays the whole log.
    const h4 = await f.start('h4', [seed], PHASE_MS);
    await f.call('h4', 'activate', { zone: ZONES.h4! }, PHASE_MS);
    const activeAt = Date.now();
    const tCatchUp = performance.now();
    let slowestAnswerMs = 0;
    let applied = 0;
    await f.waitFor(
      `h4 to apply the ${COMMANDS} commands of ${group}`,
      async () => {
        const asked = performance.now();
        const status = await h4.call('status', {}, PHASE_MS);
        slowestAnswerMs = Math.max(slowestAnswerMs, performance.now() - asked);
        applied = status.members.find((m) => m.group === group)?.applied ?? 0;
        return applied >= commit;
      },
      PHASE_MS,
    );
    t.diagnostic(`h4 caught up ${applied} entries in ${Math.round(performance.now() - tCatchUp)} ms; its slowest status answer took ${Math.round(slowestAnswerMs)} ms`);

    // Every host state change decided after h4 became active: none may mark anyone failed.
    const changes = (await f.stateChanges(['h1', 'h2', 'h3', 'h4'])).filter((c) => c.at >= activeAt);
    const failures = changes.filter((c) => c.state === 'failed');
    assert.deepEqual(failures, [], `hosts marked failed during the catch-up: ${JSON.stringify(failures)}`);
    passed = true;
  });
});
