// One consensus group's runtime on a host: a Raft core, the user's state machine, and the clients
// waiting on it. The host loop drives it in two phases per turn: persist() puts the group's ready
// work into the host's write batch and hands back the messages to send once that batch is durable;
// finish() applies committed entries, answers clients, and may take a snapshot.

import { FlotillaError } from '../errors.js';
import { Raft, bootstrapState, type RaftConfig, type RaftState, type Ready } from '../raft/raft.js';
import { EntryType, Role, type Entry, type HardState, type Membership, type Message, type NodeId } from '../raft/types.js';
import type { GroupRecord, WriteBatch } from '../storage/log-store.js';
import { jsonCodec, type Codec, type StateMachine } from './state-machine.js';

export interface GroupOptions<S, C, R, Q> {
  groupId: number;
  raft: RaftConfig;
  machine: StateMachine<S, C, R, Q>;
  /** How commands are written into log entries (JSON by default). */
  codec?: Codec<C>;
  /** Commands proposed and not yet applied; one more is refused with BUSY (back-pressure). */
  maxPendingCommands?: number;
  /** Take a snapshot and compact the log once this many entries were applied since the last one. */
  snapshotEvery?: number;
  /** Entries kept in memory behind a snapshot, so slightly lagging followers need no snapshot. */
  keepEntries?: number;
  /** Sees every applied command's outcome, on every replica. */
  onApply?: (index: number, outcome: Outcome<unknown>) => void;
}

export type Outcome<R> = { ok: true; reply: R } | { ok: false; error: string };

export const DEFAULT_MAX_PENDING_COMMANDS = 1024;
export const DEFAULT_SNAPSHOT_EVERY = 10_000;

interface Waiter<T> {
  term: number;
  resolve(value: T): void;
  reject(error: Error): void;
}

interface Read<Q, R> extends Waiter<R> {
  query: Q;
}

export class Group<S, C, R, Q> {
  readonly id: number;
  readonly raft: Raft;
  private readonly machine: StateMachine<S, C, R, Q>;
  private readonly codec: Codec<C>;
  private readonly maxPending: number;
  private readonly snapshotEvery: number;
  private readonly keepEntries: number;
  private readonly onApply: ((index: number, outcome: Outcome<unknown>) => void) | undefined;

  private machineState: S;
  private applied: number;
  private snapshotIndex: number;
  private hardState: HardState;
  /** The founding state of a new group, not yet in the store. */
  private unsavedInitial: RaftState | null;
  /** A snapshot taken locally, not yet in the store. */
  private unsavedSnapshot = false;
  /** The ready handed out by persist(), until finish(). */
  private inFlight: Ready | null = null;
  private halted: FlotillaError | null = null;
  private wake: () => void = () => undefined;

  /** Commands by log index. */
  private readonly commands = new Map<number, Waiter<R>>();
  /** Reads waiting for the leader to confirm its leadership, by request id. */
  private readonly unconfirmedReads = new Map<number, Read<Q, R>>();
  /** Confirmed reads waiting for apply to reach their index. */
  private confirmedReads: Array<{ index: number; read: Read<Q, R> }> = [];
  private nextReadId = 1;

  /** A founding member of a new group; its initial state is written in its first turn. */
  static create<S, C, R, Q>(options: GroupOptions<S, C, R, Q>, membership: Membership): Group<S, C, R, Q> {
    return new Group(options, bootstrapState(membership), true);
  }

  /** A group restarting from what the store holds: its snapshot, then its log replayed. */
  static restore<S, C, R, Q>(options: GroupOptions<S, C, R, Q>, record: GroupRecord): Group<S, C, R, Q> {
    const snapIndex = record.snapshot?.meta.index ?? 0;
    const state: RaftState = { hardState: record.hardState, snapshot: record.snapshot, entries: record.entries, applied: snapIndex };
    return new Group(options, state, false);
  }

  private constructor(options: GroupOptions<S, C, R, Q>, initial: RaftState, unsaved: boolean) {
    this.id = options.groupId;
    this.machine = options.machine;
    this.codec = options.codec ?? jsonCodec<C>();
    this.maxPending = options.maxPendingCommands ?? DEFAULT_MAX_PENDING_COMMANDS;
    this.snapshotEvery = options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY;
    this.keepEntries = options.keepEntries ?? 0;
    this.onApply = options.onApply;
    this.machineState = initial.snapshot ? this.machine.restore(initial.snapshot.data) : this.machine.init();
    this.applied = initial.applied;
    this.snapshotIndex = initial.snapshot?.meta.index ?? 0;
    this.hardState = { ...initial.hardState };
    this.unsavedInitial = unsaved ? initial : null;
    this.raft = new Raft(options.raft, initial);
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  /** Resolves with the reply once the command is applied here. */
  async command(cmd: C): Promise<R> {
    this.checkRunning();
    if (this.commands.size >= this.maxPending) {
      throw new FlotillaError('BUSY', `group ${this.id}: ${this.commands.size} commands pending`, { groupId: this.id, retry: true });
    }
    const index = this.raft.propose(this.codec.encode(cmd));
    const term = this.raft.currentTerm;
    const reply = new Promise<R>((resolve, reject) => this.commands.set(index, { term, resolve, reject }));
    this.wake();
    return reply;
  }

  /** A linearizable query (ReadIndex): answered once this leader confirmed it still leads and applied far enough. */
  async query(q: Q): Promise<R> {
    this.checkRunning();
    if (this.raft.currentRole !== Role.Leader) throw notLeader(this.id, this.raft.leader);
    const requestId = this.nextReadId++;
    const term = this.raft.currentTerm;
    const reply = new Promise<R>((resolve, reject) => this.unconfirmedReads.set(requestId, { term, query: q, resolve, reject }));
    this.raft.readIndex(requestId);
    this.wake();
    return reply;
  }

  /** The local state machine's state (possibly stale on a follower). */
  get state(): S {
    return this.machineState;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get leader(): NodeId {
    return this.raft.leader;
  }

  // ---------------------------------------------------------------------------------------------
  // The host loop's side

  /** Called when a client added work, so the loop schedules a turn. */
  bind(wake: () => void): void {
    this.wake = wake;
  }

  tick(): void {
    this.raft.tick();
  }

  step(m: Message): void {
    this.raft.step(m);
  }

  hasWork(): boolean {
    return this.halted === null && (this.raft.hasReady() || this.unsavedInitial !== null || this.unsavedSnapshot);
  }

  /** Adds this turn's writes to `batch`; returns the messages to send once it is durable. */
  persist(batch: WriteBatch): Message[] {
    if (this.unsavedInitial !== null) {
      batch.setHardState(this.id, this.unsavedInitial.hardState);
      batch.appendEntries(this.id, this.unsavedInitial.entries);
      this.unsavedInitial = null;
    }
    const rd = this.raft.ready();
    this.inFlight = rd;
    this.confirmReads(rd);
    if (rd.hardState !== null) this.hardState = rd.hardState;
    if (rd.snapshot !== null) {
      // A snapshot from the leader replaces the whole stored log (entries above it may conflict),
      // and supersedes any older snapshot of our own.
      batch.deleteGroup(this.id);
      batch.setSnapshot(this.id, rd.snapshot);
      batch.setHardState(this.id, this.hardState);
      this.unsavedSnapshot = false;
    } else {
      const snap = this.raft.latestSnapshot;
      // Stored entries are dropped up to the snapshot itself: keepEntries only holds in memory.
      if (this.unsavedSnapshot && snap !== null) batch.setSnapshot(this.id, snap);
      this.unsavedSnapshot = false;
      if (rd.hardState !== null) batch.setHardState(this.id, rd.hardState);
    }
    batch.appendEntries(this.id, rd.entries);
    return rd.messages;
  }

  /** After the turn's write is durable: apply, answer clients, maybe snapshot. */
  finish(): void {
    const rd = this.inFlight;
    if (rd === null) return;
    this.inFlight = null;
    if (rd.snapshot !== null) this.installSnapshot(rd.snapshot.data, rd.snapshot.meta.index);
    for (const e of rd.committed) this.apply(e);
    this.raft.advance(rd);
    this.serveReads();
    this.maybeSnapshot();
  }

  /** Stops the group: every waiting client gets `error`, and so does every later call. */
  halt(error: FlotillaError): void {
    this.halted = error;
    for (const w of this.commands.values()) w.reject(error);
    for (const r of this.unconfirmedReads.values()) r.reject(error);
    for (const c of this.confirmedReads) c.read.reject(error);
    this.commands.clear();
    this.unconfirmedReads.clear();
    this.confirmedReads = [];
  }

  // ---------------------------------------------------------------------------------------------

  private checkRunning(): void {
    if (this.halted !== null) throw this.halted;
  }

  private apply(e: Entry): void {
    this.applied = e.index;
    let waiter = this.commands.get(e.index);
    this.commands.delete(e.index);
    if (waiter !== undefined && waiter.term !== e.term) {
      // Another leader's entry took the index: ours was overwritten and never applies.
      waiter.reject(
        new FlotillaError('NOT_LEADER', `group ${this.id}: the command was overwritten by a new leader; it was not applied`, {
          groupId: this.id,
          leader: this.raft.leader,
          index: e.index,
        }),
      );
      waiter = undefined;
    }
    // Configuration entries and a new leader's empty no-op are not commands.
    if (e.type !== EntryType.Normal || e.data.length === 0) return;
    const outcome = this.run(e.data);
    this.onApply?.(e.index, outcome);
    if (waiter === undefined) return;
    if (outcome.ok) waiter.resolve(outcome.reply);
    else waiter.reject(new FlotillaError('COMMAND_FAILED', outcome.error, { groupId: this.id, index: e.index }));
  }

  /** Runs one command; a throw (or an undecodable entry) is the same error reply on every replica. */
  private run(data: Uint8Array): Outcome<R> {
    try {
      const result = this.machine.command(this.machineState, this.codec.decode(data));
      this.machineState = result.state;
      return { ok: true, reply: result.reply };
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
  }

  private installSnapshot(data: Uint8Array, index: number): void {
    this.machineState = this.machine.restore(data);
    this.applied = index;
    this.snapshotIndex = index;
    // Commands at indexes the snapshot covers may or may not be in it: their caller's deadline decides.
    for (const [i, w] of this.commands) {
      if (i > index) continue;
      this.commands.delete(i);
      w.reject(new FlotillaError('TIMEOUT', `group ${this.id}: outcome unknown (replaced by a snapshot at ${index})`, { groupId: this.id, index: i }));
    }
  }

  /** Moves confirmed reads along; reads of a leadership that ended are refused. */
  private confirmReads(rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.unconfirmedReads.get(rs.requestId);
      if (read === undefined) continue;
      this.unconfirmedReads.delete(rs.requestId);
      this.confirmedReads.push({ index: rs.index, read });
    }
    for (const [id, read] of this.unconfirmedReads) {
      if (rd.role === Role.Leader && rd.term === read.term) continue;
      this.unconfirmedReads.delete(id);
      read.reject(notLeader(this.id, rd.leader));
    }
  }

  private serveReads(): void {
    const waiting: typeof this.confirmedReads = [];
    for (const c of this.confirmedReads) {
      if (c.index > this.applied) {
        waiting.push(c);
        continue;
      }
      try {
        c.read.resolve(this.machine.query(this.machineState, c.read.query));
      } catch (err) {
        c.read.reject(new FlotillaError('COMMAND_FAILED', err instanceof Error ? err.message : String(err), { groupId: this.id }));
      }
    }
    this.confirmedReads = waiting;
  }

  private maybeSnapshot(): void {
    if (this.applied - this.snapshotIndex < this.snapshotEvery) return;
    this.raft.compact(this.applied, this.machine.snapshot(this.machineState), this.keepEntries);
    this.snapshotIndex = this.applied;
    this.unsavedSnapshot = true;
  }
}

function notLeader(groupId: number, leader: NodeId): FlotillaError {
  return new FlotillaError('NOT_LEADER', `group ${groupId}: not the leader`, { groupId, leader });
}
