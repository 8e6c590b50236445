// An in-process fleet for tests: host loops on their own stores, joined by a message router that
// delivers each turn's messages asynchronously, and can cut hosts off.

import { Group, type GroupOptions } from '../../src/group/group.js';
import type { StateMachine } from '../../src/group/state-machine.js';
import { HostLoop, type HostLoopOptions, type Outgoing } from '../../src/loop/host-loop.js';
import { DEFAULT_RAFT_CONFIG } from '../../src/raft/raft.js';
import { seededRandom } from '../../src/raft/random.js';
import { Role } from '../../src/raft/types.js';
import type { LogStore } from '../../src/storage/log-store.js';
import { isFlotillaError } from '../../src/common/errors.js';

/** A list of strings: `append` adds one, `fail` throws; queries read the list. */
export type ListCommand = { op: 'append'; value: string } | { op: 'fail'; message: string };
export type ListGroup = Group<string[], ListCommand, number, null>;

export const listMachine: StateMachine<string[], ListCommand, number, null> = {
  init: () => [],
  command(state, cmd) {
    if (cmd.op === 'fail') throw new Error(cmd.message);
    const next = [...state, cmd.value];
    return { state: next, reply: next.length };
  },
  query: (state) => state.length,
  snapshot: (state) => new TextEncoder().encode(JSON.stringify(state)),
  restore: (bytes) => JSON.parse(new TextDecoder().decode(bytes)) as string[],
};

export const TICK_MS = 10;

export type GroupTuning = Partial<
  Pick<GroupOptions<string[], ListCommand, number, null>, 'machine' | 'maxPendingCommands' | 'snapshotEvery' | 'keepEntries' | 'onApply'>
>;

export class TestFleet {
  readonly loops = new Map<string, HostLoop>();
  readonly groups = new Map<string, Map<number, ListGroup>>();
  /** Hosts cut off from every other host. */
  readonly isolated = new Set<string>();

  /** `releaseLog`: groups keep only what is in flight in memory, reading the rest back from their store (as a Host's do). */
  constructor(
    readonly hosts: string[],
    private readonly options: { releaseLog?: boolean } = {},
  ) {}

  /** Starts `host` on `store` with the given groups, founding them or restoring them from the store. */
  async startHost(
    host: string,
    store: LogStore,
    groupIds: number[],
    mode: 'create' | 'restore',
    tuning: GroupTuning | ((groupId: number) => GroupTuning) = {},
    loopOptions: Partial<HostLoopOptions> = {},
  ): Promise<HostLoop> {
    const loop = new HostLoop({ store, tickMs: TICK_MS, send: (messages) => this.route(host, messages), ...loopOptions });
    const groups = new Map<number, ListGroup>();
    for (const groupId of groupIds) {
      const options: GroupOptions<string[], ListCommand, number, null> = {
        groupId,
        raft: {
          ...DEFAULT_RAFT_CONFIG,
          id: host,
          random: seededRandom(groupId * 31 + this.hosts.indexOf(host)),
          ...(this.options.releaseLog === true ? { logReader: (from: number, to: number, maxBytes: number) => store.readEntries(groupId, from, to, maxBytes) } : {}),
        },
        machine: listMachine,
        ...(typeof tuning === 'function' ? tuning(groupId) : tuning),
      };
      const group =
        mode === 'create'
          ? Group.create(options, { voters: this.hosts, learners: [] })
          : Group.restore(options, await store.loadGroup(groupId));
      groups.set(groupId, group);
      loop.addGroup(group);
    }
    this.loops.set(host, loop);
    this.groups.set(host, groups);
    loop.start();
    return loop;
  }

  async stopHost(host: string): Promise<void> {
    await this.loops.get(host)?.stop();
    this.loops.delete(host);
    this.groups.delete(host);
  }

  async stopAll(): Promise<void> {
    for (const host of [...this.loops.keys()]) await this.stopHost(host);
  }

  group(host: string, groupId: number): ListGroup {
    const group = this.groups.get(host)?.get(groupId);
    if (group === undefined) throw new Error(`no group ${groupId} on ${host}`);
    return group;
  }

  /** The group's leader with the highest term, if any host has one. */
  leader(groupId: number): ListGroup | undefined {
    let best: ListGroup | undefined;
    for (const groups of this.groups.values()) {
      const g = groups.get(groupId);
      if (g === undefined || g.role !== Role.Leader) continue;
      if (best === undefined || g.term > best.term) best = g;
    }
    return best;
  }

  /** Runs a command at the leader, retrying while there is none or it moved (NOT_LEADER: not applied). */
  async command(groupId: number, cmd: ListCommand, timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const leader = this.leader(groupId);
      if (leader !== undefined) {
        try {
          return await leader.command(cmd);
        } catch (err) {
          if (!isFlotillaError(err, 'NOT_LEADER')) throw err;
        }
      }
      if (Date.now() > deadline) throw new Error(`group ${groupId}: no leader accepted the command in time`);
      await sleep(TICK_MS);
    }
  }

  private route(from: string, messages: Outgoing[]): void {
    setImmediate(() => {
      for (const { groupId, message } of messages) {
        if (this.isolated.has(from) || this.isolated.has(message.to)) continue;
        this.loops.get(message.to)?.step(groupId, message);
      }
    });
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` until it holds; fails with `what` after the deadline. */
export async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}
