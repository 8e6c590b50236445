// The data the Raft core reads and produces. Plain objects only: these cross the storage and
// transport layers unchanged (storage/ persists them, transport/ encodes them with protobuf).
// Indexes and terms are plain numbers (always below 2^53).

/** A member's stable id: the id of the host it lives on. */
export type NodeId = string;

/** The "nobody" value of a vote or a leader. */
export const NONE: NodeId = '';

export enum EntryType {
  /** A client command (empty data: the no-op a new leader appends to commit its term). */
  Normal = 0,
  /** A configuration entry: data is the encoded complete new Membership (see membership.ts). */
  Config = 1,
}

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/**
 * Reads back durable log entries a member released from memory (RaftLog.release): those in
 * [from, to), in order, stopping after the first whose data takes the total past `maxBytes`.
 * Synchronous, as etcd/raft's Storage.Entries is: the core calls it while it builds an append.
 * Throws if the entries cannot be read (a failed store); the driver stops then.
 */
export type LogReader = (from: number, to: number, maxBytes: number) => Entry[];

/** A group's configuration. Voters count towards quorums; learners only receive the log. */
export interface Membership {
  voters: NodeId[];
  learners: NodeId[];
}

/** What must be durable before a member acts on it: Raft's persistent state besides the log. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export interface SnapshotMeta {
  /** Index and term of the last entry the snapshot covers. */
  index: number;
  term: number;
  /** The configuration as of `index`. */
  membership: Membership;
}

export interface Snapshot {
  meta: SnapshotMeta;
  /** The state machine's own serialization of its state at meta.index. */
  data: Uint8Array;
}

export enum MessageType {
  Vote = 1,
  VoteResp = 2,
  PreVote = 3,
  PreVoteResp = 4,
  Append = 5,
  AppendResp = 6,
  Heartbeat = 7,
  HeartbeatResp = 8,
  /** One chunk of a snapshot, leader to follower. */
  Snapshot = 9,
  /** Acknowledges snapshot chunks: `index` is the next offset the follower expects. */
  SnapshotResp = 10,
  /** Leadership transfer: the receiver campaigns at once, ignoring leader leases. */
  TimeoutNow = 11,
}

/**
 * One flat message shape for every kind (as etcd/raft does): it maps one-to-one onto the protobuf
 * schema. Fields a kind does not use hold their zero value.
 *
 * - Vote/PreVote: index/logTerm = candidate's last log index/term; `force` for a transfer campaign.
 * - Append: index/logTerm = previous entry; entries; commit; context = the leader's latest
 *   read/lease round (sent after that round began, so its answer acknowledges the round).
 * - AppendResp: accepted: index = last index now matching; rejected: index = the rejected prevIndex,
 *   rejectHint = the follower's last index at or below it, logTerm = that entry's term; context
 *   echoed (0 from a member that predates it).
 * - Heartbeat: commit (capped at the follower's match); context = read/lease round; `force`: the
 *   leader quiesces after this one (see RaftConfig.quiesceAfterTicks).
 * - HeartbeatResp: context echoed.
 * - Snapshot: snapshot chunk; SnapshotResp: index = next expected offset, logTerm = snapshot index.
 */
export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  logTerm: number;
  index: number;
  entries: Entry[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: number;
  force: boolean;
  snapshot: SnapshotChunk | null;
}

export interface SnapshotChunk {
  meta: SnapshotMeta;
  /** Byte offset of `data` within the whole snapshot data. */
  offset: number;
  /** Length of the whole snapshot data. */
  total: number;
  data: Uint8Array;
}

/**
 * A message with every field at its zero value but the ones given. Field by field, not by spread:
 * every message gets one object shape, and a spread's copy cost a microsecond a message.
 */
export function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return {
    type: fields.type,
    from: fields.from,
    to: fields.to,
    term: fields.term,
    logTerm: fields.logTerm ?? 0,
    index: fields.index ?? 0,
    entries: fields.entries ?? [],
    commit: fields.commit ?? 0,
    reject: fields.reject ?? false,
    rejectHint: fields.rejectHint ?? 0,
    context: fields.context ?? 0,
    force: fields.force ?? false,
    snapshot: fields.snapshot ?? null,
  };
}

export enum Role {
  Follower = 'follower',
  PreCandidate = 'pre-candidate',
  Candidate = 'candidate',
  Leader = 'leader',
}

/** A linearizable read that may be served once the member has applied up to `index`. */
export interface ReadState {
  requestId: number;
  index: number;
}
