// Applying in bounded slices (src/loop/apply-budget.ts and HostLoop's finishAll): a turn applies
// within a budget of time and entries shared by all its groups, the groups the budget ran out on
// go first next turn, a group with entries left keeps getting turns even while quiesced; with real
// groups, a reply and a read wait for their entry to be applied, applied never passes commit, and
// snapshots are taken at the applied index. Also: the loop's ticks run after the messages that
// arrived while the process was paused, not before them.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { FlotillaError } from '../../src/common/errors.js';
import type { ApplyBudget } from '../../src/loop/apply-budget.js';
import { HostLoop, type LoopGroup } from '../../src/loop/host-loop.js';
import { realScheduler, type Scheduler } from '../../src/common/scheduler.js';
import { MessageType, message, type Message } from '../../src/raft/types.js';
import { openLogStore } from '../../src/storage/open-store.js';
import { TestFleet, listMachine, waitFor, type ListCommand } from './harness.js';

/** A stand-in group with `backlog` committed entries to apply and nothing else; quiesced, so no timer ever reaches it. */
class BacklogGroup implements LoopGroup {
  readonly isQuiesced = true;
  readonly dueClock = Infinity;
  applied = 0;
  constructor(
    readonly id: number,
    private readonly backlog: number,
    private readonly onApply: (id: number) => void,
  ) {}
  bind(): void {}
  catchUp(): void {}
  step(_m: Message): void {}
  reportUnreachable(): void {}
  hasWork(): boolean {
    return this.applied < this.backlog;
  }
  persist(): { messages: Message[]; mustSync: boolean } {
    return { messages: [], mustSync: false };
  }
  finish(budget: ApplyBudget): void {
    while (this.applied < this.backlog && budget.take()) {
      this.applied++;
      this.onApply(this.id);
    }
  }
  get appliedIndex(): number {
    return this.applied;
  }
  halt(_error: FlotillaError): void {}
}

/** Runs backlog groups on a loop until all is applied; returns each turn's applies, as group ids. */
async function applyBacklogs(backlogs: number[], options: { maxAppliesPerTurn?: number; applySliceMs?: number; msPerEntry?: number }): Promise<number[][]> {
  let now = 0;
  const store = await openLogStore({ engine: 'memory' });
  const scheduler: Scheduler = { ...realScheduler, now: () => now };
  const { msPerEntry = 0, ...budget } = options;
  const loop = new HostLoop({ store, tickMs: 1_000, scheduler, send: () => undefined, ...budget });
  const turns = new Map<number, number[]>();
  const groups = backlogs.map(
    (n, i) =>
      new BacklogGroup(i + 1, n, (id) => {
        const turn = loop.stats.turns;
        turns.set(turn, [...(turns.get(turn) ?? []), id]);
        now += msPerEntry;
      }),
  );
  for (const g of groups) loop.addGroup(g);
  loop.start();
  await waitFor('every backlog applied', () => groups.every((g) => !g.hasWork()));
  await loop.stop();
  return [...turns.values()];
}

/** The longest run of turns in which group `id` applied nothing while it still had entries left. */
function longestWait(turns: number[][], id: number, backlog: number): number {
  let applied = 0;
  let wait = 0;
  let longest = 0;
  for (const turn of turns) {
    if (applied === backlog) break;
    const mine = turn.filter((g) => g === id).length;
    applied += mine;
    wait = mine > 0 ? 0 : wait + 1;
    longest = Math.max(longest, wait);
  }
  return longest;
}

describe('applying in slices', () => {
  it('applies at most maxAppliesPerTurn entries per turn across all groups, each group in turn, quiesced or not', async () => {
    const turns = await applyBacklogs([10, 10, 10], { maxAppliesPerTurn: 4 });
    assert.equal(turns.flat().length, 30, 'every entry applied once');
    for (const turn of turns) assert.ok(turn.length <= 4, `a turn applied ${turn.length}`);
    // Round robin: with 3 groups behind, none waits more than the 2 turns the others take.
    for (const id of [1, 2, 3]) assert.ok(longestWait(turns, id, 10) <= 2, `group ${id} waited ${longestWait(turns, id, 10)} turns: ${JSON.stringify(turns)}`);
  });

  it('stops applying once the turn has applied for applySliceMs (the first entry always applies)', async () => {
    const turns = await applyBacklogs([35, 5], { applySliceMs: 10, msPerEntry: 1 });
    assert.equal(turns.flat().length, 40);
    for (const turn of turns) assert.ok(turn.length >= 1 && turn.length <= 10, `a turn applied ${turn.length}`);
    assert.deepEqual(turns[0], new Array<number>(10).fill(1), 'the first turn applies 10 ms of group 1');
    assert.equal(turns[1]?.[0], 2, 'group 2, which got nothing, goes first in the next turn');
    const oneEach = await applyBacklogs([3, 3], { applySliceMs: 0, msPerEntry: 1 });
    assert.deepEqual(oneEach, [[1], [2], [1], [2], [1], [2]], 'a budget of 0 ms still applies one entry per turn');
  });

  describe('with real groups on one host', () => {
    let fleet: TestFleet | undefined;
    afterEach(async () => {
      await fleet?.stopAll();
      fleet = undefined;
    });

    /** The list machine, taking about `ms` per command (a slow state machine). */
    const slowList = (ms: number): typeof listMachine => ({
      ...listMachine,
      command(state, cmd) {
        const until = performance.now() + ms;
        while (performance.now() < until);
        return listMachine.command(state, cmd);
      },
    });

    it('answers commands and reads only once applied, never applies past commit, and snapshots at the applied index', async () => {
      const f = new TestFleet(['solo']);
      fleet = f;
      const store = await openLogStore({ engine: 'memory' });
      const groupIds = [1, 2, 3];
      const appliedPastCommit: string[] = [];
      await f.startHost(
        'solo',
        store,
        groupIds,
        'create',
        (groupId) => ({
          machine: slowList(1),
          snapshotEvery: 7,
          onApply: (index) => {
            const g = f.group('solo', groupId);
            if (index > g.committed) appliedPastCommit.push(`group ${groupId} applied ${index} past commit ${g.committed}`);
          },
        }),
        { maxAppliesPerTurn: 3 },
      );
      await waitFor('a leader in every group', () => groupIds.every((id) => f.leader(id) !== undefined));
      const COMMANDS = 30;
      let lagged = 0;
      const reads: Array<Promise<void>> = [];
      const replies = groupIds.flatMap((id) => {
        const g = f.group('solo', id);
        return Array.from({ length: COMMANDS }, (_, i) =>
          g.command({ op: 'append', value: `${id}.${i}` } satisfies ListCommand).then((n) => {
            assert.ok(g.state.length >= n, `group ${id}: reply ${n} came before its entry was applied (${g.state.length} applied)`);
            // Read while apply lags commit: the read waits for the entries committed before it.
            const committedCommands = g.committed - 2; // after the founding configuration and the leader's no-op
            if (g.appliedIndex < g.committed) lagged++;
            reads.push(
              g.query(null, { consistency: i % 2 === 0 ? 'linearizable' : 'lease' }).then((length) => {
                assert.ok(length >= committedCommands, `group ${id}: a read answered ${length} with ${committedCommands} commands committed before it`);
              }),
            );
            return n;
          }),
        );
      });
      const answered = await Promise.all(replies);
      await Promise.all(reads);
      assert.deepEqual(answered.sort((a, b) => a - b), Array.from({ length: COMMANDS * 3 }, (_, i) => Math.floor(i / 3) + 1));
      assert.deepEqual(appliedPastCommit, []);
      assert.ok(lagged > 0, 'apply lagged commit at some point: the slices were exercised');
      for (const id of groupIds) {
        const g = f.group('solo', id);
        assert.deepEqual(g.state, Array.from({ length: COMMANDS }, (_, i) => `${id}.${i}`));
        const snapshotAt = g.raftForTests.latestSnapshot?.meta.index ?? 0;
        assert.ok(snapshotAt > 0 && snapshotAt <= g.appliedIndex, `group ${id}: snapshot at ${snapshotAt}, applied ${g.appliedIndex}`);
      }
      const loop = f.loops.get('solo')!;
      assert.ok(loop.stats.applyCutShort > 0, 'some turns ran out of budget');
      // Restarted from what the store holds (snapshots taken in slices): the same lists.
      await f.stopHost('solo');
      await f.startHost('solo', store, groupIds, 'restore');
      for (const id of groupIds) {
        await waitFor(`group ${id} to replay`, () => f.group('solo', id).state.length === COMMANDS);
        assert.deepEqual(f.group('solo', id).state, Array.from({ length: COMMANDS }, (_, i) => `${id}.${i}`));
      }
    });
  });
});

describe('ticks after a pause', () => {
  it('run after the messages that arrived meanwhile, so no timeout fires ahead of the answer that would have stopped it', async () => {
    let now = 0;
    let timer: (() => void) | undefined;
    const soon: Array<() => void> = [];
    // A scheduler driven by hand: the timer fires when the test says, and soon() waits in a queue.
    const scheduler: Scheduler = {
      now: () => now,
      after: realScheduler.after,
      every(_ms, run) {
        timer = run;
        return { cancel: () => (timer = undefined) };
      },
      soon: (run) => soon.push(run),
    };
    const store = await openLogStore({ engine: 'memory' });
    const loop = new HostLoop({ store, tickMs: 5, scheduler, send: () => undefined });
    const ticksAtStep: number[] = [];
    let ticks = 0;
    let tickedTo = 0;
    let clock: () => number = () => 0;
    const group: LoopGroup = {
      id: 1,
      isQuiesced: false,
      appliedIndex: 0,
      bind: (_wake, c) => {
        clock = c;
        tickedTo = c();
      },
      catchUp: () => {
        ticks += clock() - tickedTo;
        tickedTo = clock();
      },
      get dueClock() {
        return tickedTo + 1;
      },
      step: () => {
        group.catchUp();
        ticksAtStep.push(ticks);
      },
      reportUnreachable: () => undefined,
      hasWork: () => false,
      persist: () => ({ messages: [], mustSync: false }),
      finish: () => undefined,
      halt: () => undefined,
    };
    loop.addGroup(group);
    loop.start();
    now += 5 * 20; // a pause of 20 ticks: the timer is due, and so is a message that came meanwhile
    timer?.();
    assert.equal(ticks, 0, 'the timer only queues the ticks');
    loop.step(1, message({ type: MessageType.VoteResp, from: 'h2', to: 'h1', term: 2 }));
    for (const run of soon.splice(0)) run();
    assert.deepEqual(ticksAtStep, [0], 'the message is stepped before the ticks of the pause');
    assert.equal(ticks, 20, 'then the ticks catch up');
    await loop.stop();
  });
});
