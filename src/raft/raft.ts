// The Raft algorithm as a pure, deterministic state machine (the etcd/raft shape).
//
// Nothing here does I/O, reads a clock or draws unseeded randomness. The driver feeds it inputs:
//   tick(n)                     n units of logical time (election and heartbeat timers count ticks)
//   step(message)               a message from a peer
//   propose(data)               a client command (leader only)
//   changeMembership(change)    a single-server configuration change (leader only)
//   readIndex(id, {lease})      a linearizable read (leader only)
//   transferLeadership(to)      hand leadership to a caught-up voter
//   campaignNow()               start an election without waiting for the timeout
//   wake()                      end quiescence (the driver suspects the leader's host is down)
//   reportUnreachable(to)       a message to `to` could not be sent (the queue to its host is full)
//   unsafeForceSingleVoter()    operator disaster recovery after a permanent loss of quorum
//   compact(index, data)        the state machine's snapshot at an applied index
// and collects its outputs with ready(): state and entries to persist, messages to send after
// persisting them, committed entries to apply, read states to answer. advance(ready) tells the
// core what the driver made durable and applied. A driver that gives it a LogReader (config
// logReader, as etcd/raft's Storage) lets it drop durable, applied entries from memory: it reads
// them back through it, synchronously, when a member that fell behind needs them.
//
// Beyond the Raft paper it has PreVote and CheckQuorum (thesis 9.6), pipelined replication with
// flow control (etcd's probe/replicate/snapshot), fast conflict backtracking by term, ReadIndex
// and lease reads (thesis 6.4), leadership transfer (thesis 3.10), learners and single-server
// membership changes (thesis 4.1 with the "commit an entry of your term first" fix), and
// chunked snapshot transfer.

import { FlotillaError } from '../common/errors.js';
import { assert } from './assert.js';
import { RaftLog } from './log.js';
import {
  applyChange,
  decodeMembership,
  EMPTY_MEMBERSHIP,
  encodeMembership,
  isMember,
  isVoter,
  allMembers,
  quorum,
  type MembershipChange,
} from './membership.js';
import { Progress, ProgressState } from './progress.js';
import type { Random } from './random.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import {
  EntryType,
  message,
  MessageType,
  NONE,
  Role,
  type Entry,
  type LogReader,
  type HardState,
  type Membership,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
} from './types.js';

export interface RaftConfig {
  id: NodeId;
  /** Ticks without hearing from a leader before campaigning (randomized in [e, 2e)). */
  electionTick: number;
  /** Ticks between leader heartbeats; must be well below electionTick. */
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Unanswered appends per follower in Replicate state. */
  maxInflight: number;
  /**
   * Entry bytes per append message, each entry counted as its data plus appendEntryOverheadBytes
   * (at least one entry is always sent: one up to maxEntryBytes travels alone).
   */
  maxAppendBytes: number;
  /**
   * What each entry counts against maxAppendBytes besides its data: its framing on the driver's
   * wire, so that a batch of many small entries is bounded in wire bytes too.
   */
  appendEntryOverheadBytes: number;
  /**
   * The largest entry data a leader appends; a larger proposal or membership change is refused
   * with BAD_ARGUMENT, so no entry in a log is too large for an append message. A driver derives
   * it from its transport's frame (fleet/limits.ts).
   */
  maxEntryBytes: number;
  /** Proposals beyond this many uncommitted entries are refused with BUSY (back-pressure). */
  maxUncommittedEntries: number;
  /**
   * Ticks a leader waits with nothing to replicate, read or change before it quiesces: it sends
   * one last heartbeat telling followers so and then none at all until there is work (0: never).
   * A quiesced follower keeps its leader and does not campaign until wake() (its driver suspects
   * the leader's host) or a message from the leader says otherwise. Needs preVote: a follower that
   * a late or duplicated message woke may time out and campaign, and only PreVote keeps that from
   * deposing a live leader (its pre-vote wakes the leader instead).
   */
  quiesceAfterTicks: number;
  /** Snapshot data bytes per chunk message. */
  snapshotChunkBytes: number;
  /** Committed entry data bytes handed out for applying per ready(). */
  maxApplyBytes: number;
  /**
   * A new commit index goes to the followers at once, in an append of its own to each (as
   * etcd/raft does). Off, it travels with the next append or heartbeat the follower gets anyway,
   * at the latest half an election timeout later (broadcastHeartbeat): at a command or two per
   * round, the commit's own messages and their answers were a quarter of a group's messages, then
   * (at 1,000 groups) its heartbeats a third. The leader's own apply and replies do not wait either
   * way; followers apply up to half an election timeout later.
   */
  broadcastCommit: boolean;
  random: Random;
  /**
   * Where the driver reads back durable entries. Given one, a member keeps in memory only the
   * entries not yet durable or applied here (on a leader: or not yet held by every member in
   * touch), and reads older ones back for a member that fell behind (RaftLog.release).
   * Without, the whole uncompacted log stays in memory.
   */
  logReader?: LogReader;
  /**
   * Whether this member is about to leave the group (its host drains). It then campaigns only
   * after LEAVING_EXTRA_ELECTION_TIMEOUTS more election timeouts without a leader, so that the
   * members staying win a moving group's elections first: a draining host that won them had to
   * hand each away again (820 of 3,468 in one 1,000-member drain). It still votes, and campaigns
   * at once when a transfer asks it to. Never campaigning could leave a group whose other voters
   * lag behind it without a leader.
   */
  leaving?: () => boolean;
}

export const DEFAULT_RAFT_CONFIG: Omit<RaftConfig, 'id' | 'random'> = {
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxInflight: 64,
  maxAppendBytes: 1 << 20,
  appendEntryOverheadBytes: 0,
  maxEntryBytes: Infinity,
  maxUncommittedEntries: 10_000,
  quiesceAfterTicks: 0,
  snapshotChunkBytes: 1 << 20,
  maxApplyBytes: 4 << 20,
  broadcastCommit: true,
};

/** What a member starts from: what its driver loaded from storage. */
export interface RaftState {
  hardState: HardState;
  /** The latest snapshot (its data is what the leader sends to followers that are far behind). */
  snapshot: Snapshot | null;
  /** Log entries in storage, contiguous, starting at or below snapshot.index + 1. */
  entries: Entry[];
  /** The index the driver's state machine reflects (its restored snapshot's index). */
  applied: number;
}

export interface Ready {
  /** Persist before sending `messages` (null: unchanged). */
  hardState: HardState | null;
  /** Persist: they replace any stored entries at or after entries[0].index. */
  entries: Entry[];
  /** A snapshot received from the leader: persist it (dropping the whole stored log), restore the state machine from it. */
  snapshot: Snapshot | null;
  /** Send once the above is durable. */
  messages: Message[];
  /** Apply in order (after the above is durable). */
  committed: Entry[];
  /** Reads that may be answered once `index` has been applied. */
  readStates: ReadState[];
  /** Soft state, for the driver to notice leader changes. */
  role: Role;
  leader: NodeId;
  term: number;
}

export interface RaftStatus {
  id: NodeId;
  role: Role;
  term: number;
  vote: NodeId;
  leader: NodeId;
  commit: number;
  applied: number;
  lastIndex: number;
  firstIndex: number;
  /** Entries after this index are held whole in memory; those from firstIndex to it were released (read back when needed). */
  releasedTo: number;
  membership: Membership;
  transferee: NodeId;
  progress: Array<{ id: NodeId; match: number; next: number; state: ProgressState; active: boolean }>;
}

/** Initial state of a founding member of a new group: entry 1 is the group's first configuration. */
/** The term of a new group's founding configuration entry; the first election is for the next. */
const FOUNDING_TERM = 1;

export function bootstrapState(membership: Membership): RaftState {
  const entry: Entry = { index: 1, term: FOUNDING_TERM, type: EntryType.Config, data: encodeMembership(membership) };
  return { hardState: { term: FOUNDING_TERM, vote: NONE, commit: 1 }, snapshot: null, entries: [entry], applied: 0 };
}

/** An empty member waiting to be given the log by a leader (a learner being added). */
export function emptyState(): RaftState {
  return { hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [], applied: 0 };
}

/** A read waiting for its heartbeat round to be acknowledged by a quorum. */
interface PendingRead {
  requestId: number;
  index: number;
  round: number;
}

/** The empty list a ready hands out where there is nothing (frozen: it is shared). */
const NOTHING: never[] = Object.freeze([]) as never[];

/** How many recent heartbeat rounds remember their send tick (older acks give no lease). */
const ROUND_HISTORY = 64;
/** Ticks a lease is shortened by, to absorb tick phase differences between members. */
const LEASE_MARGIN_TICKS = 2;
/** A follower in step hears from its leader at least this often, as a fraction of electionTick (see broadcastHeartbeat). */
const MAX_QUIET_ELECTION_FRACTION = 0.5;
/** Election timeouts a leaving member waits on top of its own before it campaigns (RaftConfig.leaving). */
const LEAVING_EXTRA_ELECTION_TIMEOUTS = 2;
/**
 * Elections that ran out of time in a row widen the randomized timeout, doubling up to this many
 * times: [e, 2e), then [e, 3e), [e, 5e), [e, 9e). See failedElections.
 */
const MAX_ELECTION_BACKOFF = 3;

export class Raft {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;

  private term: number;
  private vote: NodeId;
  private lead: NodeId = NONE;
  private role: Role = Role.Follower;
  private readonly log: RaftLog;
  private membership: Membership = EMPTY_MEMBERSHIP;
  /** The latest snapshot this member holds (taken locally or installed from a leader). */
  private snapshot: Snapshot | null;
  private readonly receiver = new SnapshotReceiver();

  // Timers, in ticks.
  private now = 0;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /**
   * Campaigns in a row whose timer ran out before they were won or lost, until a leader is heard
   * or this member wins. Two survivors that time out within one round trip of each other split
   * the vote, and so do members whose round trip (a slow disk, a starved CPU) is longer than the
   * timeout: with the window of [e, 2e) ticks fixed they can go on splitting for good. Widening
   * it after each such campaign (randomized exponential backoff) makes one of them wait long
   * enough for the other to win. Timeouts only: no safety property rests on them.
   */
  private failedElections = 0;
  /** After a restart a member refuses votes for one election timeout: it may have promised a lease. */
  private voteGuard: number;

  // Candidate state.
  private readonly votes = new Map<NodeId, boolean>();

  // Leader state.
  private readonly progress = new Map<NodeId, Progress>();
  private pendingConfIndex = 0;
  private transferee: NodeId = NONE;
  private transferStarted = 0;
  /** Idle: a leader sends no heartbeats, a follower does not campaign (see quiesceAfterTicks). */
  private quiesced = false;
  /** Leader: consecutive ticks the group has been settled. */
  private idleTicks = 0;
  /** Follower: the latest heartbeat round of the current leader (older heartbeats arrived late). */
  private heartbeatRound = 0;
  /** A TimeoutNow was sent this term: a successor may exist, so lease reads are off for the term. */
  private leaseDisabled = false;
  private needBroadcast = false;
  private round = 0;
  private readonly roundSentAt: number[] = new Array<number>(ROUND_HISTORY).fill(-Infinity);
  private needReadRound = false;
  private readQueue: PendingRead[] = [];
  /** Reads that arrived before this leader committed an entry of its term. */
  private readsAwaitingTerm: Array<{ requestId: number; lease: boolean }> = [];

  // Outputs not yet handed out by ready().
  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private installedSnapshot: Snapshot | null = null;
  private persistedHardState: HardState;
  /** quorumValue()'s buffer. */
  private readonly quorumScratch: number[] = [];

  constructor(cfg: RaftConfig, state: RaftState) {
    assert(cfg.heartbeatTick > 0 && cfg.electionTick > cfg.heartbeatTick, 'electionTick must exceed heartbeatTick');
    this.id = cfg.id;
    this.cfg = cfg;
    const { hardState, snapshot, entries } = state;
    const snapIndex = snapshot?.meta.index ?? 0;
    const offset = entries.length > 0 ? entries[0]!.index - 1 : snapIndex;
    assert(offset <= snapIndex, `log starts at ${offset + 1}, after the snapshot at ${snapIndex}: a gap`);
    const offsetTerm = offset === 0 ? 0 : offset === snapIndex ? snapshot!.meta.term : -1;
    const applied = Math.max(state.applied, snapIndex);
    this.log = new RaftLog(offset, offsetTerm, entries, Math.max(hardState.commit, snapIndex), applied, cfg.logReader);
    this.snapshot = snapshot;
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.persistedHardState = { ...hardState };
    this.membership = this.membershipAt(this.log.lastIndex());
    // A member still at the founding term never acknowledged any leader (that would have raised
    // its term), so no leader's lease counts on it: it may vote at once.
    this.voteGuard = hardState.term > FOUNDING_TERM ? cfg.electionTick : 0;
    if (cfg.quiesceAfterTicks > 0 && !cfg.preVote) throw new FlotillaError('BAD_ARGUMENT', 'quiescence needs preVote');
    this.becomeFollower(this.term, NONE);
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  /**
   * `ticks` units of logical time. A quiesced member's ticks fire no timer, so from the moment it is
   * quiesced they take O(1) together: a driver may let a quiesced member's ticks pile up and hand
   * them over before its next input (the host loop does, so idle groups cost nothing per tick).
   */
  tick(ticks = 1): void {
    let left = ticks;
    while (left > 0) {
      if (this.quiesced) {
        this.elapseQuiesced(left);
        return;
      }
      // The ticks before the next one that can fire only count: they are moved in one step.
      const quiet = Math.min(left, this.ticksUntilDue()) - 1;
      if (quiet > 0) {
        this.elapse(quiet);
        left -= quiet;
      }
      this.tickOnce();
      left--;
    }
  }

  /**
   * Ticks from now until the one on which a timer of this member can fire (a campaign, a
   * heartbeat, CheckQuorum, quiescence, giving up a transfer): the ticks before it only move
   * counters. Infinity while no tick can fire anything before an input comes (quiesced, or a
   * member that may not campaign). A driver may hold a member's ticks back until then and hand
   * them over together, or before its next input: the member ends up exactly where ticking it
   * all along would have left it (tick() relies on the same count). Ticks within an input's
   * reach change it; ask again after each.
   */
  ticksUntilDue(): number {
    if (this.quiesced) return Infinity;
    if (this.role !== Role.Leader) {
      return this.promotable() ? Math.max(1, this.electionTimeout() - this.electionElapsed) : Infinity;
    }
    let due = Math.min(this.cfg.heartbeatTick - this.heartbeatElapsed, this.cfg.electionTick - this.electionElapsed);
    if (this.transferee !== NONE) due = Math.min(due, this.transferStarted + this.cfg.electionTick - this.now);
    // settled() only when quiescing could come first: the loop asks after every input.
    const quiesceDue = this.cfg.quiesceAfterTicks - this.idleTicks;
    if (this.cfg.quiesceAfterTicks > 0 && quiesceDue < due && this.settled()) due = quiesceDue;
    return Math.max(1, due);
  }

  private tickOnce(): void {
    this.now++;
    if (this.voteGuard > 0) this.voteGuard--;
    if (this.role !== Role.Leader) this.tickElection();
    else if (!this.quiesced) {
      // A quiesced leader's lease still runs out: it is measured in `now`, which moves on.
      if (this.quiesceDue()) {
        // Instead of this tick's heartbeat, not after it: two heartbeats of one tick could arrive
        // in either order, and a follower must not see the quiesce one first.
        this.broadcastHeartbeat(true);
        this.quiesced = true;
        this.idleTicks = 0;
      } else this.tickLeader();
    }
  }

  /** Exactly what `ticks` calls of tickOnce() do to a quiesced member: its clocks move, nothing fires. */
  private elapseQuiesced(ticks: number): void {
    this.now += ticks;
    this.voteGuard = Math.max(0, this.voteGuard - ticks);
    if (this.role !== Role.Leader) this.electionElapsed += ticks; // tickElection returns at once
  }

  /** Exactly what `ticks` calls of tickOnce() do when none of them fires (see ticksUntilDue). */
  private elapse(ticks: number): void {
    assert(ticks < this.ticksUntilDue(), () => `${ticks} ticks elapsed at once, but a timer fires in ${this.ticksUntilDue()}`);
    this.now += ticks;
    this.voteGuard = Math.max(0, this.voteGuard - ticks);
    this.electionElapsed += ticks;
    if (this.role !== Role.Leader) return;
    this.heartbeatElapsed += ticks;
    // quiesceDue() on each of them: settled() cannot change between inputs.
    if (this.cfg.quiesceAfterTicks > 0) this.idleTicks = this.settled() ? this.idleTicks + ticks : 0;
  }

  /**
   * Ends quiescence. A leader heartbeats again at once; a follower resumes its election timer,
   * which kept counting, so it campaigns soon if the leader has been silent long enough.
   * `campaignInTicks` (followers): campaign on that tick from now, counted from the end of the
   * leader's lease (an election timeout since it was last heard) if that is later. Followers woken together by the loss of their
   * leader's host would otherwise campaign on the same tick and split the vote, then wait a whole
   * randomized timeout; a driver that ranks them (the host does, by placement) staggers them.
   */
  wake(campaignInTicks?: number): void {
    if (!this.quiesced) return;
    if (this.role === Role.Leader) this.wakeLeader();
    else {
      this.quiesced = false;
      if (campaignInTicks !== undefined) {
        this.randomizedElectionTimeout = Math.max(this.cfg.electionTick, this.electionElapsed) + Math.max(1, campaignInTicks) - 1;
      }
    }
  }

  get isQuiesced(): boolean {
    return this.quiesced;
  }

  step(m: Message): void {
    if (m.to !== this.id) return;
    if (this.quiesced) {
      if (this.role === Role.Leader) {
        // Anything but the answers to our own heartbeats and appends means someone needs us.
        if (m.type !== MessageType.HeartbeatResp && !(m.type === MessageType.AppendResp && !m.reject)) this.wakeLeader();
      } else if ((m.type === MessageType.Vote || m.type === MessageType.PreVote) && m.from === this.lead) {
        // Our leader campaigns: it restarted or stepped down, so it leads no more.
        this.quiesced = false;
        this.lead = NONE;
      }
    }
    if (m.term > this.term) {
      if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
        // A member that heard from a live leader recently ignores campaigns (thesis 4.2.3): it
        // keeps removed or partitioned members from disrupting the group, and makes leases safe.
        if (!m.force && this.inLease()) return;
      }
      if (m.type === MessageType.PreVote || (m.type === MessageType.PreVoteResp && !m.reject)) {
        // Pre-votes are asked and granted for a future term without moving to it.
      } else if (m.type === MessageType.Vote && !this.log.isUpToDate(m.index, m.logTerm)) {
        this.outdatedCampaign(m.term);
      } else {
        const leaderMessage = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
        this.becomeFollower(m.term, leaderMessage ? m.from : NONE);
      }
    } else if (m.term < this.term) {
      if (m.type === MessageType.Append || m.type === MessageType.Heartbeat) {
        // A stale leader: tell it the newer term so it steps down (with PreVote or CheckQuorum it
        // could otherwise stay stuck, since our campaigns no longer raise its term).
        this.send(message({ type: MessageType.AppendResp, from: this.id, to: m.from, term: this.term }));
      } else if (m.type === MessageType.PreVote) {
        this.send(message({ type: MessageType.PreVoteResp, from: this.id, to: m.from, term: this.term, reject: true }));
      }
      return;
    }

    if (m.type === MessageType.Vote || m.type === MessageType.PreVote) {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case Role.Leader:
        this.stepLeader(m);
        break;
      case Role.Candidate:
      case Role.PreCandidate:
        this.stepCandidate(m);
        break;
      case Role.Follower:
        this.stepFollower(m);
        break;
    }
  }

  /**
   * The driver could not hand a message for `to` to the network (its queue to that host is full):
   * a leader replicating to `to` stops pipelining and probes, one append at a time, so appends
   * that were dropped do not hold its window of unanswered appends full (etcd's ReportUnreachable).
   * A follower catching up a long log could otherwise stall: pipelined appends of 1 MiB overrun
   * the queue, and only a heartbeat round frees a slot of the window.
   */
  reportUnreachable(to: NodeId): void {
    if (this.role !== Role.Leader) return;
    const pr = this.progress.get(to);
    if (pr !== undefined && pr.state === ProgressState.Replicate) pr.becomeProbe();
  }

  /** Starts an election now rather than at the election timeout (a new group's preferred member). */
  campaignNow(): void {
    if (this.role === Role.Leader || !this.promotable()) return;
    this.electionElapsed = 0;
    this.campaign(this.cfg.preVote ? 'pre' : 'real');
  }

  /**
   * Disaster recovery, for an operator only, when the group lost its quorum for good: makes this
   * member the only voter and the leader, at a new term, whatever the others hold. Entries a lost
   * majority committed that this member lacks are gone; entries it holds uncommitted become
   * committed. Never called by flotilla itself.
   */
  unsafeForceSingleVoter(): void {
    this.becomeCandidate();
    this.appendEntry(EntryType.Config, encodeMembership({ voters: [this.id], learners: [] }));
    this.becomeLeader();
  }

  /** Appends a command; returns its index. Throws NOT_LEADER (details.leader), BUSY, or BAD_ARGUMENT (over maxEntryBytes). */
  propose(data: Uint8Array): number {
    this.checkEntrySize(data);
    this.wake();
    this.assertCanPropose();
    return this.appendEntry(EntryType.Normal, data);
  }

  /**
   * Appends a single-server configuration change; it takes effect at once, on the leader and on
   * each follower as they append it. Only one may be uncommitted, and only once this leader has
   * committed an entry of its term (without that, single-server changes are unsafe).
   */
  changeMembership(change: MembershipChange): number {
    this.wake();
    this.assertCanPropose();
    if (this.pendingConfIndex > this.log.committed || this.log.term(this.log.committed) !== this.term) {
      throw new FlotillaError('BUSY', 'a membership change is still in progress', { retry: true });
    }
    const next = applyChange(this.membership, change);
    if (change.type === 'promote') {
      const pr = this.progress.get(change.node);
      if (pr === undefined || pr.match < this.log.committed) {
        throw new FlotillaError('BUSY', `learner ${change.node} has not caught up yet`, { retry: true });
      }
    }
    const data = encodeMembership(next);
    this.checkEntrySize(data);
    const index = this.appendEntry(EntryType.Config, data);
    this.pendingConfIndex = index;
    return index;
  }

  /**
   * Asks for a linearizable read. A ReadState with this requestId comes out of ready() once it is
   * safe; reads that cannot be confirmed (leadership lost) never do: the driver times them out.
   * With `lease`, a leader within its lease answers without a heartbeat round (assumes bounded
   * clock drift; requires checkQuorum).
   */
  readIndex(requestId: number, options: { lease?: boolean } = {}): void {
    this.assertLeader();
    this.wake();
    const lease = options.lease === true;
    if (this.log.term(this.log.committed) !== this.term) {
      // Until an entry of this term commits, the leader's commit index may lag the true one.
      this.readsAwaitingTerm.push({ requestId, lease });
      return;
    }
    this.serveRead(requestId, lease);
  }

  /** Starts handing leadership to `to`; abandoned after one election timeout. */
  transferLeadership(to: NodeId): void {
    this.assertLeader();
    this.wake();
    if (to === this.id) return;
    if (!isVoter(this.membership, to)) throw new FlotillaError('BAD_ARGUMENT', `${to} is not a voter`);
    if (this.transferee === to) return;
    this.transferee = to;
    this.transferStarted = this.now;
    const pr = this.progress.get(to)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to, true);
  }

  /**
   * The state machine's snapshot at `index` (≤ applied). Drops log entries up to
   * `index - keepEntries` from memory and returns that index: the driver drops the same from storage.
   */
  compact(index: number, data: Uint8Array, keepEntries = 0): number {
    assert(index <= this.log.applied, `snapshot at ${index} beyond applied ${this.log.applied}`);
    if (this.snapshot !== null && index <= this.snapshot.meta.index) return this.log.compactedTo;
    const term = this.log.term(index);
    assert(term !== undefined, `no term for snapshot index ${index}`);
    this.snapshot = { meta: { index, term, membership: this.membershipAt(index) }, data };
    const compactTo = Math.max(this.log.compactedTo, index - keepEntries);
    this.log.compactTo(compactTo);
    return compactTo;
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  hasReady(): boolean {
    return (
      this.needBroadcast ||
      this.needReadRound ||
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.installedSnapshot !== null ||
      this.log.persisting < this.log.lastIndex() ||
      this.log.applying < this.log.committed ||
      this.hardStateChanged()
    );
  }

  ready(): Ready {
    if (this.role === Role.Leader) {
      // Appends and heartbeat rounds are sent once per ready: every proposal and read of a driver
      // turn shares one message per follower.
      if (this.needBroadcast) this.broadcastAppend();
      if (this.needReadRound) this.broadcastHeartbeat();
    }
    this.needBroadcast = false;
    this.needReadRound = false;
    // A ready is made for every message a group steps: what did not change allocates nothing.
    const hardState = this.hardStateChanged() ? this.hardState() : null;
    const rd: Ready = {
      hardState,
      entries: this.log.persisting < this.log.lastIndex() ? this.log.unpersisted() : NOTHING,
      snapshot: this.installedSnapshot,
      messages: this.msgs.length > 0 ? this.msgs : NOTHING,
      committed: this.log.unapplied(this.cfg.maxApplyBytes) ?? NOTHING,
      readStates: this.readStates.length > 0 ? this.readStates : NOTHING,
      role: this.role,
      leader: this.lead,
      term: this.term,
    };
    if (hardState !== null) this.persistedHardState = hardState;
    this.log.persisting = this.log.lastIndex();
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (lastCommitted !== undefined) this.log.applying = lastCommitted.index;
    if (rd.messages !== NOTHING) this.msgs = [];
    if (rd.readStates !== NOTHING) this.readStates = [];
    this.installedSnapshot = null;
    return rd;
  }

  /**
   * The driver persisted `rd` and applied its committed entries up to `appliedTo` (all of them
   * when omitted). A driver that applies in slices passes where it stopped: the entries after it
   * come out of the next ready() again. No other ready() may come between `rd` and its advance().
   */
  advance(rd: Ready, appliedTo?: number): void {
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) {
      this.log.stableTo(last.index, last.term);
      const self = this.progress.get(this.id);
      if (this.role === Role.Leader && self !== undefined && self.maybeUpdate(this.log.stable)) this.maybeCommit();
    }
    const first = rd.committed[0];
    const lastCommitted = rd.committed[rd.committed.length - 1];
    if (first === undefined || lastCommitted === undefined) return;
    const to = appliedTo ?? lastCommitted.index;
    assert(to >= first.index - 1 && to <= lastCommitted.index, `applied ${to} outside the ready's committed entries ${first.index}..${lastCommitted.index}`);
    // A snapshot installed since ready() (restore) may already be ahead of both.
    this.log.applied = Math.max(this.log.applied, to);
    if (this.log.applying === lastCommitted.index) this.log.applying = this.log.applied;
    assert(this.log.applied <= this.log.committed, `applied ${this.log.applied} beyond commit ${this.log.committed}`);
    if (this.cfg.logReader !== undefined) this.log.release(this.heldByAll());
  }

  /**
   * The index up to which every member this one is in touch with has the log: on a leader the
   * lowest match of those that answered within the election timeout (one that did not is caught
   * up from the store, or a snapshot, when it answers again); anywhere else the whole log.
   */
  private heldByAll(): number {
    let held = this.log.lastIndex();
    if (this.role !== Role.Leader) return held;
    for (const [id, pr] of this.progress) {
      if (id !== this.id && pr.recentActive && pr.match < held) held = pr.match;
    }
    return held;
  }

  status(): RaftStatus {
    return {
      id: this.id,
      role: this.role,
      term: this.term,
      vote: this.vote,
      leader: this.lead,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      firstIndex: this.log.firstIndex(),
      releasedTo: this.log.releasedTo,
      membership: this.membership,
      transferee: this.transferee,
      progress: [...this.progress.entries()].map(([id, p]) => ({
        id,
        match: p.match,
        next: p.next,
        state: p.state,
        active: p.recentActive,
      })),
    };
  }

  get leader(): NodeId {
    return this.lead;
  }

  get currentRole(): Role {
    return this.role;
  }

  get currentTerm(): number {
    return this.term;
  }

  get currentMembership(): Membership {
    return this.membership;
  }

  /** Term of the log entry at index, if this member still has it (for checks and tests). */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  /** The log entry at index, if this member still has it (read back if released; for checks and tests). */
  entryAt(index: number): Entry | undefined {
    return this.log.entry(index);
  }

  /** The latest snapshot this member holds, if any. */
  get latestSnapshot(): Snapshot | null {
    return this.snapshot;
  }

  /** Index of the last entry compacted away (0 if none). */
  get compactedTo(): number {
    return this.log.compactedTo;
  }

  get lastIndex(): number {
    return this.log.lastIndex();
  }

  /** A configuration change is appended and not yet committed (a leader allows one at a time). */
  get configChangePending(): boolean {
    return this.pendingConfIndex > this.log.committed;
  }

  /** A leader is handing its leadership over (until the transferee wins or the attempt is abandoned). */
  get transferring(): boolean {
    return this.transferee !== NONE;
  }

  get committed(): number {
    return this.log.committed;
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private becomeFollower(term: number, lead: NodeId): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.role = Role.Follower;
    this.lead = lead;
    this.resetTimers();
    this.resetLeaderState();
  }

  /**
   * A campaign for a newer term by a member whose log is behind ours: we move to its term (and
   * refuse it), but our election timer does not start over, as the Raft paper has it (a timer
   * restarts on a leader's message or a vote granted), and our election backoff ends. Without
   * PreVote, a member that cannot win and campaigns every [e, 2e) ticks otherwise held back the
   * members that could for good: each campaign restarted their timers, widened by earlier split
   * votes to [e, 9e) (loop sim seed 9: no leader for over 3 s after the faults stopped).
   */
  private outdatedCampaign(term: number): void {
    const elapsed = this.electionElapsed;
    this.failedElections = 0;
    this.becomeFollower(term, NONE);
    this.electionElapsed = elapsed;
  }

  private becomePreCandidate(): void {
    this.role = Role.PreCandidate;
    this.lead = NONE;
    this.votes.clear();
    this.resetTimers();
    this.resetLeaderState();
  }

  private becomeCandidate(): void {
    this.term++;
    this.vote = this.id;
    this.role = Role.Candidate;
    this.lead = NONE;
    this.votes.clear();
    this.resetTimers();
    this.resetLeaderState();
  }

  private becomeLeader(): void {
    this.role = Role.Leader;
    this.lead = this.id;
    this.failedElections = 0;
    this.resetTimers();
    this.resetLeaderState();
    for (const id of allMembers(this.membership)) this.addProgress(id);
    // A round starts with the term, so the first appends carry one (a follower's answer with round
    // 0 then always means a host that does not echo rounds).
    this.startRound();
    // No configuration change until an entry of this term commits (Ongaro's single-server fix).
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntry(EntryType.Normal, new Uint8Array(0));
  }

  private resetTimers(): void {
    this.quiesced = false;
    this.idleTicks = 0;
    this.heartbeatRound = 0;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizeElectionTimeout();
  }

  /** Ticks without a leader after which this member campaigns. */
  private electionTimeout(): number {
    return this.randomizedElectionTimeout + (this.cfg.leaving?.() === true ? LEAVING_EXTRA_ELECTION_TIMEOUTS * this.cfg.electionTick : 0);
  }

  private randomizeElectionTimeout(): void {
    const e = this.cfg.electionTick;
    this.randomizedElectionTimeout = e + Math.floor(this.cfg.random() * e * 2 ** this.failedElections);
  }

  private resetLeaderState(): void {
    this.progress.clear();
    this.transferee = NONE;
    this.leaseDisabled = false;
    this.needBroadcast = false;
    this.needReadRound = false;
    this.readQueue = [];
    this.readsAwaitingTerm = [];
  }

  private addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight);
    if (id === this.id) {
      pr.match = this.log.stable;
      pr.becomeReplicate();
      pr.recentActive = true;
    }
    this.progress.set(id, pr);
  }

  /**
   * A member campaigns while it is a voter in its latest configuration or in the committed one:
   * a leader whose own removal is appended but not committed must still be able to win again,
   * or a two-voter group that lost its leader mid-change would never elect another.
   */
  private promotable(): boolean {
    return isVoter(this.membership, this.id) || isVoter(this.membershipAt(this.log.committed), this.id);
  }

  /**
   * Within an election timeout of hearing from a leader (or of a restart), a member neither votes
   * nor moves to a campaigner's term (thesis 4.2.3): removed or partitioned members cannot disrupt
   * a working leader, and leader leases stay sound. Independent of CheckQuorum.
   */
  private inLease(): boolean {
    if (this.quiesced && this.lead !== NONE) return true; // the leader's host is believed up
    return this.voteGuard > 0 || (this.lead !== NONE && this.electionElapsed < this.cfg.electionTick);
  }

  // ---------------------------------------------------------------------------------------------
  // Timers

  private tickElection(): void {
    this.electionElapsed++;
    if (this.quiesced) return;
    if (this.promotable() && this.electionElapsed >= this.electionTimeout()) {
      this.electionElapsed = 0;
      if (this.role !== Role.Follower) this.failedElections = Math.min(this.failedElections + 1, MAX_ELECTION_BACKOFF);
      this.campaign(this.cfg.preVote ? 'pre' : 'real');
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.cfg.electionTick) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, NONE);
        return;
      }
      for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
    }
    if (this.transferee !== NONE && this.now - this.transferStarted >= this.cfg.electionTick) {
      this.transferee = NONE; // abandoned: proposals resume
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTick) {
      this.heartbeatElapsed = 0;
      // A skipped heartbeat leaves a follower up to two intervals without one: only where that is
      // well inside its election timeout.
      this.broadcastHeartbeat(false, 2 * this.cfg.heartbeatTick < this.cfg.electionTick);
    }
  }

  /** Leader: settled for quiesceAfterTicks ticks in a row. */
  private quiesceDue(): boolean {
    if (this.cfg.quiesceAfterTicks <= 0) return false;
    if (!this.settled()) {
      this.idleTicks = 0;
      return false;
    }
    return ++this.idleTicks >= this.cfg.quiesceAfterTicks;
  }

  /** Nothing to replicate, commit, read, change or hand over, and every member has the whole log. */
  private settled(): boolean {
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.transferee !== NONE || this.pendingConfIndex > this.log.committed) return false;
    if (this.readQueue.length > 0 || this.readsAwaitingTerm.length > 0 || this.needReadRound) return false;
    for (const [id, pr] of this.progress) {
      if (id !== this.id && (pr.match !== last || pr.state !== ProgressState.Replicate)) return false;
    }
    return true;
  }

  private wakeLeader(): void {
    this.quiesced = false;
    this.idleTicks = 0;
    // A full election timeout for followers to answer before CheckQuorum judges them.
    this.electionElapsed = 0;
    for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = true;
    this.heartbeatElapsed = 0;
    this.broadcastHeartbeat();
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const id of this.membership.voters) {
      if (id === this.id || this.progress.get(id)?.recentActive === true) active++;
    }
    return active >= quorum(this.membership);
  }

  // ---------------------------------------------------------------------------------------------
  // Elections

  private campaign(kind: 'pre' | 'real' | 'transfer'): void {
    if (!this.promotable()) return;
    let voteTerm: number;
    if (kind === 'pre') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
    }
    const type = kind === 'pre' ? MessageType.PreVote : MessageType.Vote;
    if (this.poll(this.id, true) === 'won') {
      if (kind === 'pre') this.campaign('real');
      else this.becomeLeader();
      return;
    }
    for (const id of this.membership.voters) {
      if (id === this.id) continue;
      this.send(
        message({
          type,
          from: this.id,
          to: id,
          term: voteTerm,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          force: kind === 'transfer',
        }),
      );
    }
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    let yes = 0;
    let no = 0;
    for (const id of this.membership.voters) {
      const v = this.votes.get(id);
      if (v === true) yes++;
      else if (v === false) no++;
    }
    const q = quorum(this.membership);
    if (yes >= q) return 'won';
    if (no > this.membership.voters.length - q) return 'lost';
    return 'pending';
  }

  private handleVoteRequest(m: Message): void {
    const pre = m.type === MessageType.PreVote;
    const canVote =
      this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term);
    const grant = canVote && this.log.isUpToDate(m.index, m.logTerm);
    if (grant && !pre) {
      this.electionElapsed = 0;
      this.vote = m.from;
    }
    this.send(
      message({
        type: pre ? MessageType.PreVoteResp : MessageType.VoteResp,
        from: this.id,
        to: m.from,
        // A granted pre-vote answers for the future term; a refusal tells our own.
        term: grant && pre ? m.term : this.term,
        reject: !grant,
      }),
    );
  }

  private stepCandidate(m: Message): void {
    const expected = this.role === Role.PreCandidate ? MessageType.PreVoteResp : MessageType.VoteResp;
    switch (m.type) {
      case MessageType.Append:
      case MessageType.Heartbeat:
      case MessageType.Snapshot:
        // A leader of our term exists.
        this.becomeFollower(this.term, m.from);
        this.stepFollower(m);
        return;
      case expected: {
        const result = this.poll(m.from, !m.reject);
        if (result === 'won') {
          if (this.role === Role.PreCandidate) this.campaign('real');
          else this.becomeLeader();
        } else if (result === 'lost') {
          this.becomeFollower(this.term, NONE);
        }
        return;
      }
      default:
        return;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Follower

  private stepFollower(m: Message): void {
    // A leader is there: whatever elections failed before, the next one waits [e, 2e) again.
    const fromLeader = m.type === MessageType.Append || m.type === MessageType.Heartbeat || m.type === MessageType.Snapshot;
    if (fromLeader && this.failedElections > 0) {
      this.failedElections = 0;
      this.randomizeElectionTimeout();
    }
    switch (m.type) {
      case MessageType.Append:
        this.electionElapsed = 0;
        this.lead = m.from;
        // A late copy of an append we already hold is no news: only new entries end quiescence.
        if (m.index + m.entries.length > this.log.lastIndex()) this.quiesced = false;
        this.handleAppend(m);
        return;
      case MessageType.Heartbeat:
        this.electionElapsed = 0;
        this.lead = m.from;
        // `force` on a heartbeat: the leader quiesces after this one (unless a newer one said otherwise).
        if (m.context >= this.heartbeatRound) {
          this.heartbeatRound = m.context;
          this.quiesced = m.force;
        }
        this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
        this.send(message({ type: MessageType.HeartbeatResp, from: this.id, to: m.from, term: this.term, context: m.context }));
        return;
      case MessageType.Snapshot:
        this.electionElapsed = 0;
        this.lead = m.from;
        this.quiesced = false;
        this.handleSnapshotChunk(m);
        return;
      case MessageType.TimeoutNow:
        // The leader hands over: campaign at once, skipping PreVote and others' leases.
        this.campaign('transfer');
        return;
      default:
        return;
    }
  }

  private handleAppend(m: Message): void {
    const reply = (fields: Partial<Message>) =>
      this.send(message({ type: MessageType.AppendResp, from: this.id, to: m.from, term: this.term, context: m.context, ...fields }));
    if (m.index < this.log.committed) {
      reply({ index: this.log.committed });
      return;
    }
    let configTouched = false;
    const last = this.log.maybeAppend(m.index, m.logTerm, m.entries, () => {
      configTouched = true;
    });
    if (last === undefined) {
      const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
      reply({ index: m.index, reject: true, rejectHint: hint.index, logTerm: hint.term });
      return;
    }
    if (configTouched || m.entries.some((e) => e.type === EntryType.Config)) {
      this.membership = this.membershipAt(this.log.lastIndex());
    }
    this.log.commitTo(Math.min(m.commit, last));
    reply({ index: last });
  }

  private handleSnapshotChunk(m: Message): void {
    const chunk = m.snapshot;
    if (chunk === null) return;
    if (chunk.meta.index <= this.log.committed) {
      // We already have everything it covers.
      this.receiver.reset();
      this.send(message({ type: MessageType.AppendResp, from: this.id, to: m.from, term: this.term, index: this.log.committed }));
      return;
    }
    const result = this.receiver.accept(chunk);
    if ('next' in result) {
      this.send(
        message({ type: MessageType.SnapshotResp, from: this.id, to: m.from, term: this.term, index: result.next, logTerm: chunk.meta.index }),
      );
      return;
    }
    this.installSnapshot(result.done);
    // Acknowledge only what the snapshot proves matches: entries we kept beyond it may not.
    this.send(message({ type: MessageType.AppendResp, from: this.id, to: m.from, term: this.term, index: result.done.meta.index }));
  }

  private installSnapshot(snap: Snapshot): void {
    const { index, term } = snap.meta;
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: keep the log, just commit.
      this.log.commitTo(index);
      return;
    }
    this.log.restore(index, term);
    this.snapshot = snap;
    this.installedSnapshot = snap;
    this.membership = snap.meta.membership;
  }

  // ---------------------------------------------------------------------------------------------
  // Leader

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    switch (m.type) {
      case MessageType.AppendResp:
        pr.recentActive = true;
        pr.echoesRounds = m.context > 0;
        if (m.context > 0) {
          pr.answeredSinceBeat = true;
          this.ackRound(pr, m.context);
        }
        if (m.reject) this.handleAppendRejected(m, pr);
        else this.handleAppendAccepted(m, pr);
        return;
      case MessageType.HeartbeatResp:
        pr.recentActive = true;
        this.ackRound(pr, m.context);
        // A follower answers in the order it received, so the answer to an append or chunk sent
        // after this heartbeat is still on its way: resending now would send the same again. A
        // learner catching up was sent its whole log once per heartbeat answer that came in
        // while its host wrote the first copy (a 1,000-member drain read 1.3 million entries
        // back from the store, 22 s of a host's CPU). A later heartbeat's answer resends.
        if (m.context <= pr.sentRound) return;
        pr.probeSent = false;
        if (pr.state === ProgressState.Snapshot) {
          this.sendSnapshotChunk(m.from, pr); // retransmit the unacknowledged chunk
        } else {
          if (pr.state === ProgressState.Replicate && pr.isPaused()) pr.freeFirstInflight();
          if (pr.match < this.log.lastIndex()) this.sendAppend(m.from, true);
        }
        return;
      case MessageType.SnapshotResp:
        pr.recentActive = true;
        if (pr.state !== ProgressState.Snapshot || m.logTerm !== pr.snapshotIndex) return;
        pr.snapshotOffset = m.index;
        this.sendSnapshotChunk(m.from, pr);
        return;
      default:
        return;
    }
  }

  /** A follower answered a message of read/lease round `round` (a heartbeat, or an append sent during it). */
  private ackRound(pr: Progress, round: number): void {
    // A round never sent is a peer's bug, not ours: it proves nothing, and must not crash us.
    if (round <= pr.ackedRound || round > this.round) return;
    pr.ackedRound = round;
    this.confirmReads();
  }

  private handleAppendRejected(m: Message, pr: Progress): void {
    // Fast backtracking: skip every entry of the follower's conflicting term in one step.
    const hint = m.logTerm > 0 ? this.log.findConflictByTerm(m.rejectHint, m.logTerm).index : m.rejectHint;
    if (pr.maybeDecrTo(m.index, hint)) {
      if (pr.state === ProgressState.Replicate) pr.becomeProbe();
      this.sendAppend(m.from, true);
    }
  }

  private handleAppendAccepted(m: Message, pr: Progress): void {
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === ProgressState.Probe) {
      pr.becomeReplicate();
    } else if (pr.state === ProgressState.Snapshot && pr.match >= pr.snapshotIndex) {
      pr.becomeProbe();
      pr.becomeReplicate();
    }
    // A follower that was paused when the commit went out learns it now, even with nothing new.
    if (!this.maybeCommit() && wasPaused) this.sendAppend(m.from, true);
    this.fillPipeline(m.from, pr);
    if (m.from === this.transferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /** Advances commit to the highest index stored on a quorum of voters, if it is of this term (§5.4.2). */
  private maybeCommit(): boolean {
    const voters = this.membership.voters;
    if (voters.length === 0) return false;
    const index = this.quorumValue((id) => this.progress.get(id)?.match ?? 0);
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    if (this.cfg.broadcastCommit) this.needBroadcast = true;
    this.onCommit();
    return true;
  }

  private onCommit(): void {
    if (this.readsAwaitingTerm.length > 0) {
      const waiting = this.readsAwaitingTerm;
      this.readsAwaitingTerm = [];
      for (const r of waiting) this.serveRead(r.requestId, r.lease);
    }
    if (!isVoter(this.membership, this.id) && this.pendingConfIndex <= this.log.committed) {
      // Our own removal is committed: hand over to the most up-to-date voter and step down.
      let best: NodeId = NONE;
      let bestMatch = -1;
      for (const id of this.membership.voters) {
        const match = this.progress.get(id)?.match ?? 0;
        if (match > bestMatch) [best, bestMatch] = [id, match];
      }
      this.broadcastAppend(); // let the others learn the commit
      if (best !== NONE && bestMatch === this.log.lastIndex()) this.sendTimeoutNow(best);
      this.becomeFollower(this.term, NONE);
    }
  }

  private checkEntrySize(data: Uint8Array): void {
    if (data.length > this.cfg.maxEntryBytes) {
      throw new FlotillaError('BAD_ARGUMENT', `an entry of ${data.length} bytes is over maxEntryBytes (${this.cfg.maxEntryBytes})`, {
        bytes: data.length,
        limit: this.cfg.maxEntryBytes,
      });
    }
  }

  private appendEntry(type: EntryType, data: Uint8Array): number {
    const index = this.log.lastIndex() + 1;
    this.log.append([{ index, term: this.term, type, data }]);
    if (type === EntryType.Config) this.setMembership(decodeMembership(data));
    this.needBroadcast = true;
    return index;
  }

  private setMembership(next: Membership): void {
    this.membership = next;
    if (this.role !== Role.Leader) return;
    for (const id of allMembers(next)) if (!this.progress.has(id)) this.addProgress(id);
    for (const id of [...this.progress.keys()]) {
      if (!isMember(next, id) && id !== this.id) this.progress.delete(id);
    }
    if (this.transferee !== NONE && !isVoter(next, this.transferee)) this.transferee = NONE;
  }

  private broadcastAppend(): void {
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      if (this.sendAppend(id, true)) this.fillPipeline(id, this.progress.get(id)!);
    }
  }

  /** In Replicate, sends further appends until the follower has everything or its window is full. */
  private fillPipeline(to: NodeId, pr: Progress): void {
    while (pr.state === ProgressState.Replicate && pr.next <= this.log.lastIndex() && this.sendAppend(to, false)) {
      // each call sends one more message's worth of entries
    }
  }

  /** Sends the follower what it lacks (or a snapshot). False if nothing was sent. */
  private sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxAppendBytes, this.cfg.appendEntryOverheadBytes);
    if (prevTerm === undefined || entries === undefined) {
      this.startSnapshot(to, pr);
      return true;
    }
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send(
      message({
        type: MessageType.Append,
        from: this.id,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries,
        commit: this.log.committed,
        context: this.round,
      }),
    );
    const last = entries[entries.length - 1];
    pr.lastSentTick = this.now;
    pr.sentRound = this.round;
    if (last !== undefined) pr.sentEntries(last.index);
    else if (pr.state === ProgressState.Probe) pr.probeSent = true;
    return true;
  }

  private startSnapshot(to: NodeId, pr: Progress): void {
    assert(this.snapshot !== null, `follower ${to} needs compacted entries but there is no snapshot`);
    pr.becomeSnapshot(this.snapshot.meta.index);
    this.sendSnapshotChunk(to, pr);
  }

  private sendSnapshotChunk(to: NodeId, pr: Progress): void {
    const snap = this.snapshot;
    if (snap === null) return;
    if (snap.meta.index !== pr.snapshotIndex) {
      // A newer snapshot replaced the one being sent: start over with it.
      pr.becomeSnapshot(snap.meta.index);
    }
    const total = snap.data.length;
    if (pr.snapshotOffset > total) pr.snapshotOffset = 0;
    const data = snap.data.subarray(pr.snapshotOffset, pr.snapshotOffset + this.cfg.snapshotChunkBytes);
    pr.sentRound = this.round;
    this.send(
      message({
        type: MessageType.Snapshot,
        from: this.id,
        to,
        term: this.term,
        snapshot: { meta: snap.meta, offset: pr.snapshotOffset, total, data },
      }),
    );
  }

  private sendTimeoutNow(to: NodeId): void {
    this.leaseDisabled = true;
    this.send(message({ type: MessageType.TimeoutNow, from: this.id, to, term: this.term }));
  }

  /**
   * Starts a read/lease round and sends it to every follower. On the periodic tick (`skipBusy`),
   * a follower in step gets none if either
   *  - it answered appends since the last tick: those appends reset its election timer, and the
   *    next one carries this round (etcd sends both; at many busy groups the heartbeats were a
   *    tenth of all Raft messages); or
   *  - it echoes rounds, has acknowledged the whole log and was sent something within the last
   *    MAX_QUIET_ELECTION_FRACTION of an election timeout, counting to the next tick: a group with
   *    a command now and then otherwise spends most of its messages on heartbeats between them
   *    (at 1,000 groups, four in five). Its answers still acknowledge a round in time for the
   *    lease (electionTick - LEASE_MARGIN_TICKS), and CheckQuorum hears from it twice a timeout.
   * A follower that went quiet (its appends or answers lost: it acknowledged less than the log)
   * gets its heartbeat, whose answer makes us resend what it lacks. A follower lacking the commit
   * index gets it with the next heartbeat or append it gets (see broadcastCommit).
   */
  private broadcastHeartbeat(quiesce = false, skipBusy = false): void {
    this.startRound();
    const last = this.log.lastIndex();
    const maxQuietTicks = Math.floor(this.cfg.electionTick * MAX_QUIET_ELECTION_FRACTION);
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const inTouch = pr.answeredSinceBeat;
      pr.answeredSinceBeat = false;
      // Never beyond what the follower has: it could not know those entries are ours.
      const commit = Math.min(pr.match, this.log.committed);
      if (skipBusy && pr.state === ProgressState.Replicate && !pr.isPaused()) {
        if (inTouch) continue;
        if (pr.echoesRounds && pr.match === last && this.now - pr.lastSentTick + this.cfg.heartbeatTick <= maxQuietTicks) continue;
      }
      pr.lastSentTick = this.now;
      this.send(
        message({
          type: MessageType.Heartbeat,
          from: this.id,
          to: id,
          term: this.term,
          commit,
          context: this.round,
          force: quiesce,
        }),
      );
    }
  }

  /** A new read/lease round: what is sent from now on carries it (heartbeats, appends). */
  private startRound(): void {
    this.round++;
    this.roundSentAt[this.round % ROUND_HISTORY] = this.now;
  }

  // ---------------------------------------------------------------------------------------------
  // Reads

  private serveRead(requestId: number, lease: boolean): void {
    const onlyVoter = this.membership.voters.length === 1 && this.membership.voters[0] === this.id;
    if (onlyVoter || (lease && this.leaseValid())) {
      this.readStates.push({ requestId, index: this.log.committed });
      return;
    }
    // Confirmed by the next heartbeat round (sent at the next ready()).
    this.readQueue.push({ requestId, index: this.log.committed, round: this.round + 1 });
    this.needReadRound = true;
  }

  /** Releases every queued read whose round a quorum of voters acknowledged. */
  private confirmReads(): void {
    while (this.readQueue.length > 0) {
      const read = this.readQueue[0]!;
      let acks = 0;
      for (const id of this.membership.voters) {
        if (id === this.id || (this.progress.get(id)?.ackedRound ?? 0) >= read.round) acks++;
      }
      if (acks < quorum(this.membership)) return;
      this.readQueue.shift();
      this.readStates.push({ requestId: read.requestId, index: read.index });
    }
  }

  /**
   * A leader's lease runs for an election timeout from the send time of the latest heartbeat
   * round a quorum acknowledged: until then, those voters refuse to vote for anyone else.
   */
  private leaseValid(): boolean {
    if (!this.cfg.checkQuorum || this.leaseDisabled || this.transferee !== NONE) return false;
    const start = this.quorumValue((id) => {
      if (id === this.id) return this.now;
      const acked = this.progress.get(id)?.ackedRound ?? 0;
      if (acked === 0 || acked <= this.round - ROUND_HISTORY) return -Infinity;
      return this.roundSentAt[acked % ROUND_HISTORY]!;
    });
    return this.now < start + this.cfg.electionTick - LEASE_MARGIN_TICKS;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /**
   * The largest value a quorum of voters has reached (the quorum-th largest of `valueOf` over the
   * voters): the commit index from matches, the lease's start from acknowledged rounds. Sorted in
   * place in a buffer kept for it, by insertion (a handful of voters): it runs on every append
   * answer, and sorting a fresh array was a kilobyte of garbage a command.
   */
  private quorumValue(valueOf: (id: NodeId) => number): number {
    const voters = this.membership.voters;
    const values = this.quorumScratch;
    values.length = voters.length;
    for (let i = 0; i < voters.length; i++) {
      const v = valueOf(voters[i]!);
      let j = i;
      for (; j > 0 && values[j - 1]! < v; j--) values[j] = values[j - 1]!;
      values[j] = v;
    }
    return values[quorum(this.membership) - 1]!;
  }

  private assertLeader(): void {
    if (this.role !== Role.Leader) {
      throw new FlotillaError('NOT_LEADER', `${this.id} is not the leader`, { leader: this.lead });
    }
  }

  private assertCanPropose(): void {
    this.assertLeader();
    if (this.transferee !== NONE) {
      throw new FlotillaError('BUSY', 'leadership transfer in progress', { leader: this.transferee, retry: true });
    }
    if (this.log.lastIndex() - this.log.committed >= this.cfg.maxUncommittedEntries) {
      throw new FlotillaError('BUSY', 'too many uncommitted entries', { retry: true });
    }
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private hardStateChanged(): boolean {
    const p = this.persistedHardState;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed;
  }

  /** The configuration in force at `index`: the last configuration entry at or before it, or the snapshot's. */
  private membershipAt(index: number): Membership {
    const snapIndex = this.snapshot?.meta.index ?? 0;
    for (const e of this.log.reverse()) {
      if (e.index > index || e.type !== EntryType.Config) continue;
      if (e.index <= snapIndex) break;
      return decodeMembership(e.data);
    }
    if (this.snapshot !== null && snapIndex <= index) return this.snapshot.meta.membership;
    for (const e of this.log.reverse()) {
      if (e.index <= index && e.type === EntryType.Config) return decodeMembership(e.data);
    }
    return EMPTY_MEMBERSHIP;
  }
}
