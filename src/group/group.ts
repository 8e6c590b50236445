// One consensus group's runtime on a host: a Raft core, the user's state machine, and the clients
// waiting on it. The host loop drives it in two phases per turn: persist() puts the group's ready
// work into the host's write batch and hands back the messages to send once that batch is durable;
// finish() applies committed entries, answers clients, and may take a snapshot.
//
// Commands reach the log in an envelope (entry-format.ts) that may carry a client session; the
// session table (sessions.ts) makes retried commands apply once, and travels in the group's
// snapshot next to the machine's own (snapshot-format.ts). Snapshots are taken at indexes every
// replica chooses alike (every snapshotEvery entries and every maxLogBytes of log: the bound on the
// log in memory), survive a machine whose snapshot throws (snapshot-schedule.ts), and are hashed
// and compared with the other replicas' (state-hash.ts).

import { pino, type Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import { assert } from '../raft/assert.js';
import type { MembershipChange } from '../raft/membership.js';
import { ProgressState } from '../raft/progress.js';
import { Raft, bootstrapState, type RaftConfig, type RaftState, type RaftStatus, type Ready } from '../raft/raft.js';
import { EntryType, MessageType, Role, type Entry, type HardState, type Membership, type Message, type NodeId } from '../raft/types.js';
import type { GroupRecord, WriteBatch } from '../storage/log-store.js';
import { decodeLogCommand, encodeLogCommand, maxPayloadBytes, type LogCommand } from './entry-format.js';
import { failureError, machineFailure, machineFault, type Failure } from './machine-error.js';
import { SessionTable, checkSession, type SavedOutcome, type Session } from './sessions.js';
import { decodeGroupSnapshot, encodeGroupSnapshot } from './snapshot-format.js';
import { DEFAULT_MAX_LOG_BYTES, SnapshotSchedule, errorName } from './snapshot-schedule.js';
import { StateHashes, hashState, type StateHash, type StateMismatch } from './state-hash.js';
import { jsonCodec, jsonReplyCodec, type Codec, type StateMachine } from './state-machine.js';

export type { Session } from './sessions.js';
export type { StateHash, StateMismatch } from './state-hash.js';

export interface GroupOptions<S, C, R, Q> {
  groupId: number;
  raft: RaftConfig;
  machine: StateMachine<S, C, R, Q>;
  /** How commands are written into log entries (JSON by default). */
  codec?: Codec<C>;
  /** How replies are kept in client sessions and cross the wire (JSON by default, undefined as no bytes). */
  replyCodec?: Codec<R>;
  /** How queries cross the wire (JSON by default). */
  queryCodec?: Codec<Q>;
  /** Commands proposed and not yet applied; one more is refused with BUSY (back-pressure). */
  maxPendingCommands?: number;
  /** Linearizable and lease reads waiting at this leader; one more is refused with BUSY. */
  maxPendingReads?: number;
  /**
   * Client sessions remembered; a new client beyond them evicts the least recently used one.
   * This and maxRepliesPerSession decide how commands apply: give every replica the same values.
   */
  maxSessions?: number;
  /** Replies remembered per client session; beyond them the oldest is discarded. */
  maxRepliesPerSession?: number;
  /** Take a snapshot and compact the log at every applied index that is a multiple of this. */
  snapshotEvery?: number;
  /**
   * Also take one once the entries applied since the last snapshot reach this many bytes (or the
   * last snapshot's size, if larger), each counted as its data plus a fixed overhead: the bound on
   * the log held in memory and on what a member catches up from besides the snapshot (default 512 KiB).
   */
  maxLogBytes?: number;
  /** Entries kept in memory behind a snapshot, so slightly lagging followers need no snapshot. */
  keepEntries?: number;
  /** Sees the outcome of every command the machine runs, on every replica (not retries a session answers). */
  onApply?: (index: number, outcome: Outcome<unknown>) => void;
  /** Counters this group adds to, shared by every group of a host (its metrics). */
  counters?: GroupCounters;
  /** What goes wrong outside a command: failing snapshots, a snapshot that does not restore, state mismatches (default: silent). */
  logger?: Logger;
  /** A clock in milliseconds, for when those began (status); default performance.now. */
  now?: () => number;
  /** Sends this replica's state hash at a snapshot to the group's other members, who pass it to peerStateHash. */
  announceStateHash?: (hash: StateHash, to: NodeId[]) => void;
}

/** What a group counts, by field increments only (fleet/host-counters.ts keeps them for a host). */
export interface GroupCounters {
  /** Commands proposed to the log (by this replica, as leader). */
  proposals: number;
  /** Commands the machine ran, by outcome. */
  appliedOk: number;
  appliedFailed: number;
  /** Elections this replica started (a new term with its own vote). */
  elections: number;
  /** Leaderships this replica won (its first entry as leader applied). */
  leaderChanges: number;
  /** Membership changes this replica applied as leader. */
  membershipChanges: number;
  /** Snapshots the machine threw on (the group carried on from its log). */
  snapshotFailures: number;
  /** Snapshots the machine could not restore (the replica stopped taking part in its group). */
  restoreFailures: number;
  /** Other replicas found holding a different state at the same applied index (state-hash.ts). */
  stateMismatches: number;
}

/** What is wrong with a replica that still runs; `since` is on the group's clock (GroupOptions.now). */
export interface GroupHealth {
  /** Why it works with a handicap (its snapshots fail, or it could not restore one and stalled), or null. */
  degraded: { reason: string; since: number } | null;
  /** It could not restore its snapshot: it applies nothing and takes no part in its group until restarted. */
  stalled: boolean;
  /** The latest state mismatch with each other replica that has not agreed since. */
  mismatches: StateMismatch[];
}

/** Asked before each committed entry is applied: the host loop's budget for a turn (host/apply-budget.ts). */
export interface ApplyBudget {
  take(): boolean;
}

const UNLIMITED_APPLY: ApplyBudget = { take: () => true };

/** A failure carries the machine error's code and details when it had them (machine-error.ts). */
export type Outcome<R> = { ok: true; reply: R } | ({ ok: false } & Failure);

export interface CommandOptions {
  /** Makes the command safe to retry: it applies once however often it is sent with this session. */
  session?: Session;
}

/**
 * linearizable: ReadIndex, the leader confirms it still leads with a heartbeat round (default).
 * lease: the leader answers within its lease without that round (assumes bounded clock drift).
 * local: this replica's applied state, at once, any role (possibly stale).
 */
export type Consistency = 'linearizable' | 'lease' | 'local';

export interface QueryOptions {
  consistency?: Consistency;
}

export type GroupStatus = RaftStatus & { applied: number; pendingCommands: number; pendingReads: number; sessions: number };

export const DEFAULT_MAX_PENDING_COMMANDS = 1024;
export const DEFAULT_MAX_PENDING_READS = 1024;
export const DEFAULT_MAX_SESSIONS = 10_000;
export const DEFAULT_MAX_REPLIES_PER_SESSION = 1024;
export const DEFAULT_SNAPSHOT_EVERY = 10_000;

/** An applied command's reply as apply has it: the machine's value (maybe with its encoding), or a session's saved bytes. */
type Reply<R> = { has: 'value'; value: R; bytes: Uint8Array | null } | { has: 'bytes'; bytes: Uint8Array };

/** What applying one command entry gave. */
type Applied<R> = { ok: true; reply: Reply<R> } | ({ ok: false; code: 'COMMAND_FAILED' | 'BAD_ARGUMENT' } & Failure);

interface CommandWaiter<R> {
  term: number;
  resolve(reply: Reply<R>): void;
  reject(error: Error): void;
}

interface Read<Q, R> {
  term: number;
  query: Q;
  resolve(value: R): void;
  reject(error: Error): void;
}

export class Group<S, C, R, Q> {
  readonly id: number;
  /** Private to the group: the fleet reads the surface below ("What the fleet reads"). */
  private readonly raft: Raft;
  private readonly machine: StateMachine<S, C, R, Q>;
  private readonly codec: Codec<C>;
  private readonly replyCodec: Codec<R>;
  private readonly queryCodec: Codec<Q>;
  private readonly maxPending: number;
  private readonly maxPendingReads: number;
  /** The largest command payload: its entry, with any session, within the Raft config's maxEntryBytes. */
  private readonly maxCommandBytes: number;
  private readonly keepEntries: number;
  private readonly onApply: ((index: number, outcome: Outcome<unknown>) => void) | undefined;
  private readonly counters: GroupCounters;
  private readonly logger: Logger;
  private readonly now: () => number;
  private readonly announceStateHash: ((hash: StateHash, to: NodeId[]) => void) | undefined;
  private readonly schedule: SnapshotSchedule;
  private readonly hashes: StateHashes;

  private machineState: S;
  private readonly sessions: SessionTable;
  private applied: number;
  /** A snapshot taken at its index during apply, compacted into the log when the turn's apply ends. */
  private takenSnapshot: { index: number; data: Uint8Array } | null = null;
  /** Why this replica stalled (its snapshot did not restore), and since when. */
  private stalled: { reason: string; since: number } | null = null;
  private hardState: HardState;
  /** The founding state of a new group, not yet in the store. */
  private unsavedInitial: RaftState | null;
  /** A snapshot taken locally, not yet in the store. */
  private unsavedSnapshot = false;
  /** The entries that snapshot's compaction kept behind it: the store keeps the same. */
  private unsavedKeep = 0;
  /** The ready handed out by persist(), until finish(). */
  private inFlight: Ready | null = null;
  private halted: FlotillaError | null = null;
  private wake: () => void = () => undefined;
  /** The host loop's clock, in ticks, and how far this group's Raft has been ticked along it. */
  private clock: () => number = () => 0;
  private tickedTo = 0;

  /** Commands by log index. */
  private readonly commands = new Map<number, CommandWaiter<R>>();
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
    this.codec = options.codec ?? jsonCodec<C>(`group ${options.groupId}: the command`);
    this.replyCodec = options.replyCodec ?? jsonReplyCodec<R>();
    this.queryCodec = options.queryCodec ?? jsonCodec<Q>(`group ${options.groupId}: the query`);
    this.maxPending = positive('maxPendingCommands', options.maxPendingCommands ?? DEFAULT_MAX_PENDING_COMMANDS);
    this.maxPendingReads = positive('maxPendingReads', options.maxPendingReads ?? DEFAULT_MAX_PENDING_READS);
    this.maxCommandBytes = maxPayloadBytes(options.raft.maxEntryBytes);
    this.keepEntries = options.keepEntries ?? 0;
    this.onApply = options.onApply;
    this.counters = options.counters ?? newGroupCounters();
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.now = options.now ?? (() => performance.now());
    this.announceStateHash = options.announceStateHash;
    // Larger than any index (or log) means never (the host's group config takes any positive integer).
    const every = positive('snapshotEvery', Math.min(options.snapshotEvery ?? DEFAULT_SNAPSHOT_EVERY, Number.MAX_SAFE_INTEGER));
    const maxLogBytes = positive('maxLogBytes', Math.min(options.maxLogBytes ?? DEFAULT_MAX_LOG_BYTES, Number.MAX_SAFE_INTEGER));
    // A restart starts where its stored snapshot left every replica (snapshot-schedule.ts).
    const last = { index: initial.snapshot?.meta.index ?? 0, bytes: initial.snapshot?.data.length ?? 0 };
    this.schedule = new SnapshotSchedule({ every, maxLogBytes }, last, this.logger, this.now);
    this.hashes = new StateHashes(this.logger, this.now, () => this.counters.stateMismatches++);
    this.sessions = new SessionTable(
      positive('maxSessions', options.maxSessions ?? DEFAULT_MAX_SESSIONS),
      positive('maxRepliesPerSession', options.maxRepliesPerSession ?? DEFAULT_MAX_REPLIES_PER_SESSION),
    );
    this.applied = initial.applied;
    this.hardState = { ...initial.hardState };
    this.unsavedInitial = unsaved ? initial : null;
    this.raft = new Raft(options.raft, initial);
    this.machineState = undefined as S;
    if (initial.snapshot === null || !this.restoreSnapshot(initial.snapshot.data)) {
      // A replica whose snapshot does not restore stalls (stall()) holding the state of index 0.
      this.machineState = this.machine.init();
      if (initial.snapshot !== null) this.applied = 0;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clients

  /** Resolves with the reply once the command is applied here. */
  command(cmd: C, options?: CommandOptions): Promise<R> {
    const typed = (reply: Reply<R>): R => (reply.has === 'value' ? reply.value : this.replyCodec.decode(reply.bytes));
    const encoded = (): Uint8Array => {
      const bytes = this.codec.encode(cmd);
      this.codec.validate?.(bytes, `group ${this.id}: the command`);
      return bytes;
    };
    return this.submit(encoded, options, typed);
  }

  /**
   * A command as the machine codec's bytes (as hosts forward it, from any client); resolves with the
   * reply codec's bytes. Both pass their codec's validate (for JSON: at most MAX_JSON_DEPTH deep):
   * a command it refuses is never proposed.
   */
  commandBytes(payload: Uint8Array, options?: CommandOptions): Promise<Uint8Array> {
    const encoded = (reply: Reply<R>): Uint8Array => {
      const bytes = reply.has === 'bytes' ? reply.bytes : (reply.bytes ?? this.replyCodec.encode(reply.value));
      this.replyCodec.validate?.(bytes, 'the reply');
      return bytes;
    };
    const checked = (): Uint8Array => {
      this.codec.validate?.(payload, `group ${this.id}: the command`);
      return payload;
    };
    return this.submit(checked, options, encoded);
  }

  /** A query, linearizable (ReadIndex) unless `options.consistency` asks for a lease or a local read. */
  async query(q: Q, options?: QueryOptions): Promise<R> {
    this.checkRunning();
    this.catchUp();
    const consistency = options?.consistency ?? 'linearizable';
    if (consistency === 'local') return this.answer(q);
    if (consistency !== 'linearizable' && consistency !== 'lease') {
      throw new FlotillaError('BAD_ARGUMENT', `unknown read consistency ${String(consistency)}`, { groupId: this.id });
    }
    if (this.raft.currentRole !== Role.Leader) throw notLeader(this.id, this.raft.leader);
    const pending = this.pendingReads();
    if (pending >= this.maxPendingReads) {
      throw new FlotillaError('BUSY', `group ${this.id}: ${pending} reads pending`, { groupId: this.id, retry: true });
    }
    const requestId = this.nextReadId++;
    const term = this.raft.currentTerm;
    this.raft.readIndex(requestId, { lease: consistency === 'lease' });
    const reply = new Promise<R>((resolve, reject) => this.unconfirmedReads.set(requestId, { term, query: q, resolve, reject }));
    this.wake();
    return reply;
  }

  /** A query as the query codec's bytes; resolves with the reply codec's bytes. */
  async queryBytes(payload: Uint8Array, options?: QueryOptions): Promise<Uint8Array> {
    this.queryCodec.validate?.(payload, `group ${this.id}: the query`);
    let q: Q;
    try {
      q = this.queryCodec.decode(payload);
    } catch (err) {
      throw new FlotillaError('BAD_ARGUMENT', `group ${this.id}: the query does not decode: ${errorText(err)}`, { groupId: this.id });
    }
    const reply = await this.query(q, options);
    try {
      const bytes = this.replyCodec.encode(reply);
      this.replyCodec.validate?.(bytes, 'the reply');
      return bytes;
    } catch (err) {
      const message = `group ${this.id}: the query's reply does not encode: ${errorText(err)}`;
      throw new FlotillaError('COMMAND_FAILED', message, { groupId: this.id });
    }
  }

  /** Proposes a single-server membership change (errors as Raft.changeMembership throws them). */
  changeMembership(change: MembershipChange): void {
    this.input(() => this.raft.changeMembership(change));
  }

  /** Starts handing leadership to `to` (errors as Raft.transferLeadership throws them). */
  transferLeadership(to: NodeId): void {
    this.input(() => this.raft.transferLeadership(to));
  }

  /** Operator disaster recovery (Raft.unsafeForceSingleVoter): this replica alone carries on. */
  unsafeForceSingleVoter(): void {
    this.input(() => this.raft.unsafeForceSingleVoter());
  }

  /** Ends quiescence (Raft.wake): a leader heartbeats again, a follower may campaign (in `campaignInTicks`). */
  endQuiescence(campaignInTicks?: number): void {
    if (this.halted !== null || !this.raft.isQuiesced) return;
    this.catchUp();
    this.raft.wake(campaignInTicks);
    this.wake();
  }

  /** Campaigns at once, without waiting for an election timeout (Raft.campaignNow). */
  campaignNow(): void {
    this.input(() => this.raft.campaignNow());
  }

  /** What is wrong with this replica, if anything (the host shows it in its status). */
  health(): GroupHealth {
    const snapshots = this.schedule.describe(this.applied);
    const failing = this.schedule.failing;
    const degraded = this.stalled ?? (snapshots !== null && failing !== null ? { reason: snapshots, since: failing.since } : null);
    return { degraded, stalled: this.stalled !== null, mismatches: this.hashes.mismatches() };
  }

  /** Another replica's state hash (its host `peer`), announced at its snapshot: compared with this one's. */
  peerStateHash(peer: string, hash: StateHash): void {
    if (this.halted === null) this.hashes.recordPeer(peer, hash);
  }

  status(): GroupStatus {
    return {
      ...this.raft.status(),
      applied: this.applied,
      pendingCommands: this.commands.size,
      pendingReads: this.pendingReads(),
      sessions: this.sessions.size,
    };
  }

  /** The local state machine's state (possibly stale on a follower), as of appliedIndex. */
  get state(): S {
    return this.machineState;
  }

  get appliedIndex(): number {
    return this.applied;
  }

  // ---------------------------------------------------------------------------------------------
  // What the fleet reads of the Raft core (read-only; the core itself stays private)

  /** This replica's member id. */
  get memberId(): NodeId {
    return this.raft.id;
  }

  get leader(): NodeId {
    return this.raft.leader;
  }

  get role(): Role {
    return this.raft.currentRole;
  }

  get term(): number {
    return this.raft.currentTerm;
  }

  get membership(): Membership {
    return this.raft.currentMembership;
  }

  get committed(): number {
    return this.raft.committed;
  }

  get lastIndex(): number {
    return this.raft.lastIndex;
  }

  /** A membership change is proposed and not yet applied. */
  get configChangePending(): boolean {
    return this.raft.configChangePending;
  }

  /** This replica leads and is handing the leadership over: it takes no membership change meanwhile. */
  get transferring(): boolean {
    return this.raft.transferring;
  }

  /** This replica leads and has committed an entry of its own term: what it reads is current. */
  get leadsCommittedTerm(): boolean {
    return this.raft.currentRole === Role.Leader && this.raft.termAt(this.raft.committed) === this.raft.currentTerm;
  }

  /** The Raft core, for tests of this layer and the simulation's checks only: nothing in src/ outside group/ uses it. */
  get raftForTests(): Raft {
    return this.raft;
  }

  // ---------------------------------------------------------------------------------------------
  // The host loop's side

  /** `wake` is called when a client added work, so the loop schedules a turn; `clock` is the loop's tick count. */
  bind(wake: () => void, clock: () => number): void {
    this.wake = wake;
    this.clock = clock;
    this.tickedTo = clock();
  }

  /**
   * Ticks Raft up to the loop's clock. The loop does this when a timer of the group is due
   * (dueClock); in between, and while the group is quiesced, its ticks pile up (they fire nothing)
   * and every input catches them up first, so its leader's lease and its followers' timers are
   * exactly where ticking all along leaves them.
   */
  catchUp(): void {
    if (this.halted !== null) return;
    const now = this.clock();
    if (now === this.tickedTo) return;
    this.raft.tick(now - this.tickedTo);
    this.tickedTo = now;
  }

  get isQuiesced(): boolean {
    return this.raft.isQuiesced;
  }

  /** The loop's clock on which a timer of this group's Raft can next fire (Raft.ticksUntilDue); Infinity: none before an input. */
  get dueClock(): number {
    return this.halted !== null ? Infinity : this.tickedTo + this.raft.ticksUntilDue();
  }

  step(m: Message): void {
    if (this.halted !== null) return;
    this.catchUp();
    this.raft.step(m);
  }

  /** A message of this group for `to` could not be sent (Raft.reportUnreachable). */
  reportUnreachable(to: NodeId): void {
    if (this.halted === null) this.raft.reportUnreachable(to);
  }

  hasWork(): boolean {
    return this.halted === null && (this.raft.hasReady() || this.unsavedInitial !== null || this.unsavedSnapshot);
  }

  /**
   * Adds this turn's writes to `batch`; returns the messages to send once it is written, and
   * whether it must be synced first: new entries, a snapshot, or a new term or vote must be
   * durable before anyone hears of them (etcd's MustSync); a commit index alone is not written at all.
   */
  persist(batch: WriteBatch): { messages: Message[]; mustSync: boolean; early: Message[] } {
    let mustSync = false;
    /** A new term or vote (or a first write) in this ready: nothing may be sent before it is durable. */
    let durableTerm = true;
    if (this.unsavedInitial !== null) {
      durableTerm = false;
      mustSync = true;
      batch.setHardState(this.id, this.unsavedInitial.hardState);
      batch.appendEntries(this.id, this.unsavedInitial.entries);
      this.unsavedInitial = null;
    }
    const rd = this.raft.ready();
    this.inFlight = rd;
    this.confirmReads(rd);
    /** Whether the hard state goes into the batch: a new term or vote must; a commit index alone is not written (below). */
    let termOrVoteChanged = false;
    if (rd.hardState !== null) {
      if (rd.hardState.term !== this.hardState.term || rd.hardState.vote !== this.hardState.vote) {
        mustSync = true;
        durableTerm = false;
        termOrVoteChanged = true;
      }
      if (rd.hardState.term !== this.hardState.term && rd.hardState.vote === this.raft.id) this.counters.elections++;
      this.hardState = rd.hardState;
    }
    if (rd.snapshot !== null || rd.entries.length > 0) mustSync = true;
    if (rd.snapshot !== null) {
      // A snapshot from the leader replaces the whole stored log (entries above it may conflict),
      // and supersedes any older snapshot of our own.
      batch.deleteGroup(this.id);
      batch.setSnapshot(this.id, rd.snapshot);
      batch.setHardState(this.id, this.hardState);
      this.unsavedSnapshot = false;
    } else {
      const snap = this.raft.latestSnapshot;
      // The stored log keeps the same tail behind the snapshot as memory does, so it survives a restart.
      if (this.unsavedSnapshot && snap !== null) batch.setSnapshot(this.id, snap, { keepEntries: this.unsavedKeep });
      this.unsavedSnapshot = false;
      // Only with a new term or vote: a commit index that moved alone (every round of a busy group,
      // on every replica) is not needed back after a crash, where a replica replays up to the
      // commit it stored last and learns the rest from its leader. Writing it cost a record per
      // replica per round, the one write a busy group makes besides its entries.
      if (termOrVoteChanged) batch.setHardState(this.id, this.hardState);
    }
    batch.appendEntries(this.id, rd.entries);
    // A leader's appends and heartbeats may go out while its own write syncs (Raft thesis 10.2.1,
    // as etcd does): it counts itself toward a commit only once advance() sees the write durable,
    // so a commit still needs a quorum of durable copies. Only in a term already durable here: a
    // leader that crashed before persisting its term could win that term again and send other
    // entries under it.
    if (rd.role !== Role.Leader || !durableTerm || rd.snapshot !== null) return { messages: rd.messages, mustSync, early: [] };
    const early: Message[] = [];
    const late: Message[] = [];
    for (const m of rd.messages) (m.type === MessageType.Append || m.type === MessageType.Heartbeat ? early : late).push(m);
    return { messages: late, mustSync, early };
  }

  /**
   * After the turn's write is durable: apply as much as `budget` allows (the host loop's share of
   * a turn; what is left is applied in the next turns, the group stays busy until then), answer
   * clients, serve the reads applied far enough, maybe snapshot (at the applied index).
   */
  finish(budget: ApplyBudget = UNLIMITED_APPLY): void {
    const rd = this.inFlight;
    if (rd === null) return;
    this.inFlight = null;
    if (rd.snapshot !== null && !this.installSnapshot(rd.snapshot.data, rd.snapshot.meta.index)) return;
    for (const e of rd.committed) {
      if (!budget.take()) break;
      this.apply(e);
    }
    this.raft.advance(rd, this.applied);
    this.serveReads();
    this.compactToSnapshot();
  }

  /**
   * Stops the group: every waiting read gets `error`, and so does every later call. A waiting
   * command gets TIMEOUT: it is in the log, and the other replicas may still commit it, so saying
   * `error` (NOT_LEADER when the replica leaves its host) would tell its caller "not applied".
   */
  halt(error: FlotillaError): void {
    this.halted = error;
    const unknown = new FlotillaError('TIMEOUT', `group ${this.id}: outcome unknown: ${error.message}`, { groupId: this.id, cause: error.code });
    for (const w of this.commands.values()) w.reject(unknown);
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

  /** An input to Raft from outside the loop: on a running group, with Raft's clock caught up, then a turn. */
  private input(run: () => void): void {
    this.checkRunning();
    this.catchUp();
    run();
    this.wake();
  }

  /** Proposes a command; `convert` turns its applied reply into what the caller gets. */
  private async submit<T>(payload: () => Uint8Array, options: CommandOptions | undefined, convert: (reply: Reply<R>) => T): Promise<T> {
    this.checkRunning();
    const session = options?.session ?? null;
    if (session !== null) checkSession(session);
    if (this.commands.size >= this.maxPending) {
      throw new FlotillaError('BUSY', `group ${this.id}: ${this.commands.size} commands pending`, { groupId: this.id, retry: true });
    }
    const bytes = payload();
    if (bytes.length > this.maxCommandBytes) {
      // Refused before it is proposed: no append message could carry it to the followers.
      throw new FlotillaError('BAD_ARGUMENT', `group ${this.id}: the command is ${bytes.length} bytes, more than maxCommandBytes (${this.maxCommandBytes} bytes)`, {
        groupId: this.id,
        bytes: bytes.length,
        limit: this.maxCommandBytes,
      });
    }
    this.catchUp();
    const index = this.raft.propose(encodeLogCommand(bytes, session));
    this.counters.proposals++;
    const term = this.raft.currentTerm;
    const reply = new Promise<T>((resolve, reject) => {
      const deliver = (r: Reply<R>): void => {
        try {
          resolve(convert(r));
        } catch (err) {
          const message = `group ${this.id}: the command applied, but its reply does not convert: ${errorText(err)}`;
          reject(new FlotillaError('COMMAND_FAILED', message, { groupId: this.id, index }));
        }
      };
      this.commands.set(index, { term, resolve: deliver, reject });
    });
    this.wake();
    return reply;
  }

  /** Applies one committed entry, and snapshots right after it if its index is due. */
  private apply(e: Entry): void {
    this.applyEntry(e);
    if (this.schedule.due(e.index, e.data.length)) this.takeSnapshot(e.index);
  }

  private applyEntry(e: Entry): void {
    assert(e.index === this.applied + 1 && e.index <= this.raft.committed, `group ${this.id}: applying ${e.index} after ${this.applied} (commit ${this.raft.committed})`);
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
    if (e.type !== EntryType.Normal || e.data.length === 0) {
      if (this.raft.currentRole === Role.Leader && e.term === this.raft.currentTerm) {
        if (e.type !== EntryType.Normal) this.counters.membershipChanges++;
        else {
          // Its first entry of the term applied: this replica now leads (fleet-events.ts lists the info lines).
          this.counters.leaderChanges++;
          this.logger.info({ term: e.term }, 'leader elected');
        }
      }
      return;
    }
    const applied = this.execute(e);
    if (waiter === undefined) return;
    if (applied.ok) waiter.resolve(applied.reply);
    else waiter.reject(new FlotillaError(applied.code, applied.error, { groupId: this.id, index: e.index }, machineFault(applied.machineCode, applied.machineDetails)));
  }

  /** Applies one command entry, the same way on every replica. */
  private execute(e: Entry): Applied<R> {
    let cmd: LogCommand;
    try {
      cmd = decodeLogCommand(e.data);
    } catch (err) {
      const error = `undecodable log entry: ${errorText(err)}`;
      this.counters.appliedFailed++;
      this.onApply?.(e.index, { ok: false, error });
      return { ok: false, code: 'COMMAND_FAILED', error };
    }
    const session = cmd.session;
    if (session === null) {
      const outcome = this.run(e.index, cmd.payload);
      return outcome.ok ? { ok: true, reply: { has: 'value', value: outcome.reply, bytes: null } } : failed(outcome);
    }
    const verdict = this.sessions.check(session);
    if (verdict.kind === 'stale') return { ok: false, code: 'BAD_ARGUMENT', error: 'stale session sequence' };
    if (verdict.kind === 'cached') {
      return verdict.outcome.ok ? { ok: true, reply: { has: 'bytes', bytes: verdict.outcome.reply } } : failed(verdict.outcome);
    }
    const outcome = this.run(e.index, cmd.payload);
    if (!outcome.ok) {
      this.sessions.record(session, outcome);
      return failed(outcome);
    }
    let saved: SavedOutcome;
    try {
      saved = { ok: true, reply: this.replyCodec.encode(outcome.reply) };
    } catch (err) {
      // The machine ran, but a retry could not be answered with this reply: every replica says so.
      saved = { ok: false, error: `the command applied, but its reply does not encode: ${errorText(err)}` };
    }
    this.sessions.record(session, saved);
    return saved.ok ? { ok: true, reply: { has: 'value', value: outcome.reply, bytes: saved.reply } } : failed(saved);
  }

  /** Runs one command; a throw (or an undecodable payload) is the same error reply on every replica. */
  private run(index: number, payload: Uint8Array): Outcome<R> {
    let outcome: Outcome<R>;
    try {
      const result = this.machine.command(this.machineState, this.codec.decode(payload));
      this.machineState = result.state;
      outcome = { ok: true, reply: result.reply };
    } catch (err) {
      outcome = { ok: false, ...machineFailure(err) };
    }
    if (outcome.ok) this.counters.appliedOk++;
    else this.counters.appliedFailed++;
    this.onApply?.(index, outcome);
    return outcome;
  }

  /** Answers a query from the applied state; a throw is COMMAND_FAILED. */
  private answer(q: Q): R {
    try {
      return this.machine.query(this.machineState, q);
    } catch (err) {
      throw failureError(machineFailure(err), { groupId: this.id });
    }
  }

  private pendingReads(): number {
    return this.unconfirmedReads.size + this.confirmedReads.length;
  }

  /**
   * Takes the machine state and the session table from a group snapshot; false if they do not
   * restore, and then this replica stalls (state and sessions stay as they were).
   */
  private restoreSnapshot(data: Uint8Array): boolean {
    try {
      const snap = decodeGroupSnapshot(data);
      const state = this.machine.restore(snap.machine);
      this.sessions.restore(snap.sessions);
      this.machineState = state;
      return true;
    } catch (err) {
      this.stall(err);
      return false;
    }
  }

  /**
   * A replica whose snapshot does not restore has no state to apply to, and no way to get one in
   * this process: restoring is a function of the snapshot's bytes, which do not change. It must
   * not apply, and it stays out of its group's way: it stops ticking and steps no message, as if
   * its host were down for this group alone, until a restart (with a machine that can restore)
   * builds it again from its store.
   *
   * Raft would allow more: acknowledging and voting depend only on the log, which is durable and
   * correct here, and applying is separate. But a replica that acknowledges appends it will never
   * apply counts toward commits and looks caught up: it could win an election, or be handed
   * leadership by the reconciler, and then answer nothing. Out of the way, it is one missing
   * replica: the others, a quorum on their own, carry on. (What it acknowledged before, the
   * snapshot itself, it holds durably: that stays true.)
   */
  private stall(err: unknown): void {
    this.counters.restoreFailures++;
    const error = errorName(err);
    this.stalled = { reason: `restore failed: ${error}: this replica cannot apply and takes no part in its group until restarted`, since: this.now() };
    this.logger.error({ err }, 'snapshot restore failed: this replica stays out of its group until the host restarts');
    this.halt(new FlotillaError('UNAVAILABLE', `group ${this.id}: this replica cannot apply: its snapshot does not restore (${error})`, { groupId: this.id }));
  }

  /** A snapshot from the leader; false if it does not restore (this replica stalled). */
  private installSnapshot(data: Uint8Array, index: number): boolean {
    if (!this.restoreSnapshot(data)) return false;
    this.applied = index;
    this.schedule.succeeded(index, data.length);
    // Commands at indexes the snapshot covers may or may not be in it: their caller's deadline decides.
    for (const [i, w] of this.commands) {
      if (i > index) continue;
      this.commands.delete(i);
      w.reject(new FlotillaError('TIMEOUT', `group ${this.id}: outcome unknown (replaced by a snapshot at ${index})`, { groupId: this.id, index: i }));
    }
    return true;
  }

  /** Moves confirmed reads along; reads of a leadership that ended are refused. */
  private confirmReads(rd: Ready): void {
    for (const rs of rd.readStates) {
      const read = this.unconfirmedReads.get(rs.requestId);
      if (read === undefined) continue;
      this.unconfirmedReads.delete(rs.requestId);
      this.confirmedReads.push({ index: rs.index, read });
    }
    if (this.unconfirmedReads.size === 0) return; // (an iterator a ready otherwise)
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
        c.read.resolve(this.answer(c.read.query));
      } catch (err) {
        c.read.reject(err instanceof Error ? err : new Error(String(err)));
      }
    }
    this.confirmedReads = waiting;
  }

  /**
   * Snapshots the state as it is right after `index` applied, and hashes it for the other
   * replicas. A machine whose snapshot throws leaves the log uncompacted (snapshot-schedule.ts).
   */
  private takeSnapshot(index: number): void {
    let data: Uint8Array;
    try {
      data = encodeGroupSnapshot({ sessions: this.sessions.encode(), machine: this.machine.snapshot(this.machineState) });
    } catch (err) {
      this.counters.snapshotFailures++;
      this.schedule.failed(index, err);
      return;
    }
    this.schedule.succeeded(index, data.length);
    this.takenSnapshot = { index, data };
    const own = { index, hash: hashState(data) };
    this.hashes.recordOwn(own);
    if (this.announceStateHash !== undefined) {
      const { voters, learners } = this.raft.currentMembership;
      const others = [...voters, ...learners].filter((m) => m !== this.raft.id);
      if (others.length > 0) this.announceStateHash(own, others);
    }
  }

  /** Compacts the log to the snapshot taken in this turn's apply (Raft compacts only what it saw applied). */
  private compactToSnapshot(): void {
    const snap = this.takenSnapshot;
    if (snap === null) return;
    this.takenSnapshot = null;
    const compactedTo = this.raft.compact(snap.index, snap.data, this.tailBehind(snap.index));
    this.unsavedKeep = snap.index - compactedTo;
    this.unsavedSnapshot = true;
  }

  /**
   * Entries to keep behind a snapshot at `index`: keepEntries, and on a leader those its followers
   * still in contact lack, back to the previous snapshot at most. Snapshots come as often as
   * maxLogBytes of log, and a follower a round behind (its appends in flight) that falls back to
   * probing (a lost or refused append) would otherwise need a snapshot: with the tail it gets
   * appends. Memory holds at most one more interval, and only while a follower lags.
   */
  private tailBehind(index: number): number {
    let keep = this.keepEntries;
    if (this.raft.currentRole !== Role.Leader) return keep;
    const previous = this.raft.latestSnapshot?.meta.index ?? 0;
    for (const p of this.raft.status().progress) {
      if (p.id === this.raft.id || !p.active || p.state === ProgressState.Snapshot || p.match < previous) continue;
      keep = Math.max(keep, index - p.match);
    }
    return keep;
  }
}

export function newGroupCounters(): GroupCounters {
  return { proposals: 0, appliedOk: 0, appliedFailed: 0, elections: 0, leaderChanges: 0, membershipChanges: 0, snapshotFailures: 0, restoreFailures: 0, stateMismatches: 0 };
}

function notLeader(groupId: number, leader: NodeId): FlotillaError {
  return new FlotillaError('NOT_LEADER', `group ${groupId}: not the leader`, { groupId, leader });
}

function failed<R>(failure: Failure): Applied<R> {
  return { ...failure, ok: false, code: 'COMMAND_FAILED' };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function positive(name: string, n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new FlotillaError('BAD_ARGUMENT', `${name} must be a positive integer, got ${n}`);
  return n;
}
