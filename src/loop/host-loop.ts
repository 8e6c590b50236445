// The scheduler of every group on a host. One timer turns elapsed monotonic time into Raft ticks,
// and hands them only to the groups a timer of which is due on that tick (due-ticks.ts): the
// others catch their ticks up when something reaches them or when their own timer is due, so a
// follower costs one visit per election timeout, a leader one per heartbeat interval and a
// quiesced group nothing; each turn takes the ready work of the busy groups only, writes all
// of it in one batch with one sync, sends every outgoing message in one call, then applies. One fsync serves every group that
// had something to persist in the turn. A commit index is never needed back after a crash, so a
// group writes none (group.ts persist): a turn that only moved commit indexes (what applying a
// command brings) writes nothing, and one whose writes need no sync (a replica's own snapshot)
// does not wait for them.
//
// Applying is bounded per turn (apply-budget.ts), so a host catching up a long log still answers
// pings, heartbeats and votes between turns; and ticks run only after the event loop has read
// what the network brought, so a pause of this process does not fire timeouts ahead of the very
// messages that would have stopped them.
//
// It checks the turn's contract as it goes (common/assert.ts): only appends and heartbeats leave
// before the turn's write is durable, and no group's applied index goes back.

import { pino, type Logger } from 'pino';
import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import { MessageType, type Message, type NodeId } from '../raft/types.js';
import type { LogStore, WriteBatch } from '../storage/log-store.js';
import { TurnApplyBudget, type ApplyBudget } from './apply-budget.js';
import { DueTicks } from './due-ticks.js';
import { realScheduler, type Scheduler, type Timer } from '../common/scheduler.js';

/** What the loop needs of a group (group/group.ts). */
export interface LoopGroup {
  readonly id: number;
  /** `wake`: the group may have work or have woken up; `clock`: the loop's tick count. */
  bind(wake: () => void, clock: () => number): void;
  /** Ticks the group up to the loop's clock (also done by the group itself before any input). */
  catchUp(): void;
  /** Quiesced: its ticks fire nothing, so the loop leaves it alone until something reaches it. */
  readonly isQuiesced: boolean;
  /**
   * The loop clock value on which one of its timers can next fire (Infinity: none before an
   * input): the loop catches it up then, and not on the ticks before. Asked again after each input.
   */
  readonly dueClock: number;
  step(m: Message): void;
  /** A message for member `to` could not be sent (the transport's queue to its host is full). */
  reportUnreachable(to: NodeId): void;
  hasWork(): boolean;
  /** The index of the last entry applied: it never goes back (the loop checks after each finish()). */
  readonly appliedIndex: number;
  /**
   * Adds the group's ready to the batch; mustSync unless it only moved the commit index. `early`
   * messages may be sent before the batch is durable (a leader's appends), `messages` only after.
   */
  persist(batch: WriteBatch): { messages: Message[]; mustSync: boolean; early?: Message[] };
  /**
   * Applies what `budget` allows of the committed entries persist() handed out, and answers; a
   * group with entries left says so in hasWork(), and applies them in a later turn.
   */
  finish(budget: ApplyBudget): void;
  halt(error: FlotillaError): void;
}

export interface Outgoing {
  groupId: number;
  message: Message;
}

export interface HostLoopOptions {
  store: LogStore;
  /** A turn's messages: leaders' appends and heartbeats in one call before its write, the rest in one call once it is durable. */
  send: (messages: Outgoing[]) => void;
  /** Milliseconds per Raft tick. */
  tickMs: number;
  /** Clock and timers (the simulation passes virtual ones). */
  scheduler?: Scheduler;
  /** Ticks caught up at most after a pause (more would only repeat the same timeouts). */
  maxCatchUpTicks?: number;
  /**
   * Milliseconds of applying per turn, across all groups (from the first entry applied; one entry
   * always applies). Well under a tick, a heartbeat and a ping interval, so a host catching up
   * stays responsive; long enough that the turn's own cost does not dominate.
   */
  applySliceMs?: number;
  /** Entries applied per turn at most, across all groups (the simulations set it: their clock does not move while code runs). */
  maxAppliesPerTurn?: number;
  /** A group quiesced: the loop stops ticking it (the host checks it is where it should be first). */
  onQuiesced?: (groupId: number) => void;
  /**
   * Whether the groups may be handed ticks yet; until it first says so, time does not count for
   * them (no election timer runs, so no replica campaigns), and it is not asked again after. A
   * host holds its ticks until a peer has judged its data directory: a copy put back elected its
   * only-voter replicas by itself and could have served them (fleet sim seed 5024).
   */
  mayTick?: () => boolean;
  logger?: Logger;
}

export const DEFAULT_APPLY_SLICE_MS = 10;

export class HostLoop {
  private readonly store: LogStore;
  private readonly send: (messages: Outgoing[]) => void;
  private readonly tickMs: number;
  private readonly scheduler: Scheduler;
  private readonly maxCatchUpTicks: number;
  private readonly applySliceMs: number;
  private readonly maxAppliesPerTurn: number;
  private readonly onQuiesced: (groupId: number) => void;
  private readonly logger: Logger;

  private readonly groups = new Map<number, LoopGroup>();
  /** Groups that may have work; the others cost nothing in a turn. */
  private readonly busy = new Set<LoopGroup>();
  /** The groups not quiesced (a quiesced one may linger here until the next tick). */
  private readonly awake = new Set<LoopGroup>();
  /** The awake groups by the tick their next timer is due on: the only ones a tick reaches. */
  private readonly due = new DueTicks<LoopGroup>();
  /**
   * Groups the last turn's apply budget ran out on or before, in the order they should go first
   * next turn: without it, the groups early in the busy order would take every turn's budget.
   */
  private firstNext: LoopGroup[] = [];
  /** The timer fired and its ticks wait for the event loop to have read the network (see queueTicks). */
  private ticksQueued = false;
  private timer: Timer | null = null;
  private startedAt = 0;
  /** Whole ticks of elapsed time since start() that the timer has seen. */
  private ticksSeen = 0;
  /** The groups' clock: ticks handed out, which skips what a pause missed beyond maxCatchUpTicks. */
  private clock = 0;
  /** Null once the groups may tick (HostLoopOptions.mayTick). */
  private mayTick: (() => boolean) | null;
  /** A turn is queued or running: at most one at a time, so every ready is advanced before the next. */
  private turnPending = false;
  private currentTurn: Promise<void> = Promise.resolve();
  private running = false;
  private failure: FlotillaError | null = null;
  /** Each group's applied index after its last finish(), to check it never goes back. */
  private readonly appliedSeen = new WeakMap<LoopGroup, number>();
  /** Turns that had work, the store writes they made (at most one each), and turns whose apply budget ran out. */
  readonly stats = { turns: 0, writes: 0, syncs: 0, applyCutShort: 0 };

  constructor(options: HostLoopOptions) {
    this.store = options.store;
    this.send = options.send;
    this.tickMs = options.tickMs;
    this.scheduler = options.scheduler ?? realScheduler;
    this.maxCatchUpTicks = options.maxCatchUpTicks ?? 100;
    this.applySliceMs = options.applySliceMs ?? DEFAULT_APPLY_SLICE_MS;
    this.maxAppliesPerTurn = options.maxAppliesPerTurn ?? Infinity;
    if (!(this.applySliceMs >= 0) || !(this.maxAppliesPerTurn >= 1)) {
      throw new FlotillaError('BAD_ARGUMENT', `applySliceMs must be >= 0 and maxAppliesPerTurn >= 1, got ${this.applySliceMs} and ${this.maxAppliesPerTurn}`);
    }
    this.onQuiesced = options.onQuiesced ?? (() => undefined);
    this.mayTick = options.mayTick ?? null;
    this.logger = options.logger ?? pino({ level: 'silent' });
  }

  start(): void {
    if (this.running || this.failure !== null) return;
    this.running = true;
    this.startedAt = this.scheduler.now();
    this.ticksSeen = 0;
    this.timer = this.scheduler.every(this.tickMs, () => this.queueTicks());
    for (const group of this.groups.values()) this.touched(group);
  }

  /** Stops after the current turn; waiting clients get SHUTTING_DOWN. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    await this.currentTurn;
    this.haltAll(new FlotillaError('SHUTTING_DOWN', 'the host loop stopped'));
  }

  /** The failure that stopped the loop (STORAGE_FAILED for a write error), if any. */
  get failed(): FlotillaError | null {
    return this.failure;
  }

  addGroup(group: LoopGroup): void {
    if (this.groups.has(group.id)) throw new FlotillaError('GROUP_EXISTS', `group ${group.id} is already on this host`, { groupId: group.id });
    this.groups.set(group.id, group);
    group.bind(
      () => this.touched(group),
      () => this.clock,
    );
    if (this.failure !== null) group.halt(this.failure);
    else this.touched(group);
  }

  /** Takes a group off the loop; resolves once no unfinished turn holds it, so its data can go. */
  async removeGroup(groupId: number): Promise<void> {
    const group = this.groups.get(groupId);
    if (group === undefined) return;
    this.groups.delete(groupId);
    this.busy.delete(group);
    this.awake.delete(group);
    this.due.delete(group);
    await this.currentTurn;
  }

  /** The ids of the groups not known to be quiesced: the only ones whose state can move on its own. */
  *awakeGroupIds(): IterableIterator<number> {
    for (const group of this.awake) yield group.id;
  }

  /** A message from a peer; messages for unknown groups are dropped (the group may be gone). */
  step(groupId: number, message: Message): void {
    const group = this.groups.get(groupId);
    if (group === undefined || !this.running) return;
    try {
      group.step(message);
    } catch (err) {
      // Reading back released entries from the store for an append, or a broken invariant: never
      // thrown into the transport that delivered the message.
      this.groupFailed(group, err);
      return;
    }
    this.touched(group);
  }

  /** A message of the group for member `to` was dropped before it left: the group's leader stops pipelining to it. */
  unreachable(groupId: number, to: NodeId): void {
    this.groups.get(groupId)?.reportUnreachable(to);
  }

  /** Something reached the group: its timers may have moved, and it gets a turn if it has work. */
  private touched(group: LoopGroup): void {
    if (!this.running || this.groups.get(group.id) !== group) return;
    this.track(group);
    if (!group.hasWork()) return;
    this.busy.add(group);
    this.schedule();
  }

  /**
   * Files an awake group under the tick its next timer is due on. A group that just quiesced is
   * filed under the next tick, which takes it out of the awake ones (and tells the host).
   */
  private track(group: LoopGroup): void {
    if (group.isQuiesced) {
      if (this.awake.has(group)) this.due.file(group, this.clock + 1);
      return;
    }
    this.awake.add(group);
    const due = group.dueClock;
    if (due !== Infinity) this.due.file(group, Math.max(due, this.clock + 1));
  }

  /**
   * Node runs due timers before it reads the sockets: after a pause of this process (a long turn,
   * a starved CPU) the timer would fire elections and CheckQuorum on time that passed while the
   * answers (votes, heartbeat responses) sat unread. Deferring the ticks behind the network read
   * steps those answers first; it costs one event loop turn, and only delays timeouts.
   */
  private queueTicks(): void {
    if (this.ticksQueued) return;
    this.ticksQueued = true;
    this.scheduler.soon(() => {
      this.ticksQueued = false;
      if (this.running) this.onTimer();
    });
  }

  private onTimer(): void {
    // Ticks follow elapsed time, not timer callbacks: a late timer (a pause, a long turn) catches up.
    const due = Math.floor((this.scheduler.now() - this.startedAt) / this.tickMs);
    const ticks = Math.min(due - this.ticksSeen, this.maxCatchUpTicks);
    this.ticksSeen = due;
    if (ticks <= 0) return;
    if (this.mayTick !== null) {
      if (!this.mayTick()) return;
      this.mayTick = null;
    }
    const from = this.clock;
    this.clock += ticks;
    const dueGroups: LoopGroup[] = [];
    this.due.take(from, this.clock, dueGroups);
    for (const group of dueGroups) {
      assert(this.awake.has(group), () => `only awake groups are due: group ${group.id}`);
      group.catchUp();
      if (group.isQuiesced) {
        this.awake.delete(group);
        this.onQuiesced(group.id);
      } else this.track(group);
      if (group.hasWork()) this.busy.add(group);
    }
    if (this.busy.size > 0) this.schedule();
  }

  private schedule(): void {
    if (this.turnPending || !this.running) return;
    this.turnPending = true;
    this.scheduler.soon(() => {
      this.currentTurn = this.runTurn();
    });
  }

  private async runTurn(): Promise<void> {
    try {
      if (this.running) await this.turn();
    } catch (err) {
      // A bug below the loop: half a turn may be in the batch or applied, so stop everything.
      this.logger.error({ err }, 'host loop turn failed');
      this.fail(new FlotillaError(isStorageError(err) ? 'STORAGE_FAILED' : 'UNAVAILABLE', `the host loop stopped: ${errorText(err)}`));
    }
    this.turnPending = false;
    if (this.busy.size > 0) this.schedule();
  }

  private async turn(): Promise<void> {
    // Work that arrives for a group while the write syncs joins its next ready, so collecting
    // only after the turn (not during its sync) keeps each group's work in as few turns as it can.
    const groups: LoopGroup[] = [];
    for (const group of this.busy) if (group.hasWork()) groups.push(group);
    this.busy.clear();
    if (groups.length === 0) return;
    const batch = this.store.newBatch();
    const outgoing: Outgoing[] = [];
    const early: Outgoing[] = [];
    let sync = false;
    for (const group of groups) {
      const persisted = group.persist(batch);
      sync ||= persisted.mustSync;
      for (const message of persisted.messages) outgoing.push({ groupId: group.id, message });
      for (const message of persisted.early ?? []) {
        // The one exception to "send only what is durable": a leader's appends (thesis 10.2.1), and its heartbeats.
        assert(message.type === MessageType.Append || message.type === MessageType.Heartbeat, () => `only appends and heartbeats leave before the turn's write is durable: group ${group.id} sent type ${message.type} early`);
        early.push({ groupId: group.id, message });
      }
    }
    // A leader's appends travel while its write syncs: followers persist in parallel with it.
    if (early.length > 0) this.send(early);
    if (batch.size > 0) {
      this.stats.writes++;
      if (sync) {
        this.stats.syncs++;
        try {
          await this.store.write(batch, { sync });
        } catch (err) {
          this.writeFailed(err);
          return;
        }
      } else {
        // Nothing here must be durable before anything else happens (a replica's own snapshot: a
        // crash may lose an unsynced write anyway), so the turn goes on without waiting for it.
        // The store applies writes in call order, and a failure still stops the loop.
        this.store.write(batch, { sync }).catch((err: unknown) => this.writeFailed(err));
      }
    }
    this.stats.turns++;
    if (outgoing.length > 0) this.send(outgoing);
    this.finishAll(groups);
  }

  /**
   * finish() every group of the turn, applying within one budget for the turn: the groups the
   * budget ran out on go first next turn, so each group behind gets its share in turn.
   */
  private finishAll(groups: LoopGroup[]): void {
    const budget = new TurnApplyBudget(() => this.scheduler.now(), this.applySliceMs, this.maxAppliesPerTurn);
    const starved: LoopGroup[] = [];
    let cutShort: LoopGroup | null = null;
    for (const group of this.fairOrder(groups)) {
      const refusedBefore = budget.refused;
      this.finishOne(group, budget);
      if (refusedBefore) starved.push(group);
      else if (budget.refused) cutShort = group;
    }
    // The group that was cut mid-way had its share: the ones that got nothing go before it.
    this.firstNext = cutShort === null ? starved : [...starved, cutShort];
    if (budget.refused) this.stats.applyCutShort++;
  }

  /** The turn's groups, those the last budget ran out on first (in that order). */
  private fairOrder(groups: LoopGroup[]): LoopGroup[] {
    if (this.firstNext.length === 0) return groups;
    const inTurn = new Set(groups);
    const first = this.firstNext.filter((g) => inTurn.has(g));
    const firstSet = new Set(first);
    return [...first, ...groups.filter((g) => !firstSet.has(g))];
  }

  private finishOne(group: LoopGroup, budget: ApplyBudget): void {
    try {
      group.finish(budget);
      const before = this.appliedSeen.get(group) ?? 0;
      assert(group.appliedIndex >= before, () => `a group's applied index never goes back: group ${group.id} from ${before} to ${group.appliedIndex}`);
      this.appliedSeen.set(group, group.appliedIndex);
    } catch (err) {
      // The state machine threw outside a command (snapshot, restore), or an invariant broke.
      this.groupFailed(group, err);
      return;
    }
    if (this.groups.get(group.id) !== group) return;
    // What it applied may move its timers (a learner promoted to voter may campaign).
    this.track(group);
    // Entries left unapplied keep it busy, quiesced or not: it gets the next turns until done.
    if (group.hasWork()) this.busy.add(group);
  }

  /**
   * A group threw: only it stops, unless the store failed under it (a read back of released
   * entries), which stops the loop as a failed write does.
   */
  private groupFailed(group: LoopGroup, err: unknown): void {
    if (isStorageError(err)) {
      this.logger.error({ err, groupId: group.id }, 'storage read failed');
      this.fail(new FlotillaError('STORAGE_FAILED', `the host loop stopped: storage read failed: ${errorText(err)}`));
      return;
    }
    this.logger.error({ err, groupId: group.id }, 'group stopped');
    this.groups.delete(group.id);
    this.busy.delete(group);
    this.awake.delete(group);
    this.due.delete(group);
    group.halt(new FlotillaError('UNAVAILABLE', `group ${group.id} stopped: ${errorText(err)}`, { groupId: group.id }));
  }

  private writeFailed(err: unknown): void {
    this.logger.error({ err }, 'storage write failed');
    this.fail(new FlotillaError('STORAGE_FAILED', `the host loop stopped: storage write failed: ${errorText(err)}`));
  }

  /** Fail-stop: nothing unwritten may be acted on, so the loop accepts no more work. */
  private fail(error: FlotillaError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.running = false;
    this.timer?.cancel();
    this.timer = null;
    this.haltAll(error);
  }

  private haltAll(error: FlotillaError): void {
    this.busy.clear();
    this.awake.clear();
    this.due.clear();
    for (const group of this.groups.values()) group.halt(error);
  }
}

/** A store's failure (a read back of released entries throws these), not a bug of the group. */
function isStorageError(err: unknown): boolean {
  return err instanceof FlotillaError && (err.code === 'STORAGE_FAILED' || err.code === 'STORAGE_UNAVAILABLE' || err.code === 'STORAGE_CORRUPT');
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
