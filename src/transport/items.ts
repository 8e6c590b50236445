// What travels between hosts, as plain TS data. The codec maps these onto the protobuf schema in
// proto/flotilla.proto; nothing above transport/ sees a generated class.
import type { ErrorCode } from '../common/errors.js';
import type { Message, NodeId } from '../raft/types.js';

/** A host's stable id (the same id its Raft members use). */
export type HostId = NodeId;

/** One Raft message of one group. */
export interface RaftItem {
  kind: 'raft';
  groupId: number;
  message: Message;
}

/**
 * One group's Heartbeat (or HeartbeatResp) in a coalesced heartbeat: the Raft message's fields
 * that a heartbeat uses, with its members named by serial on the item's hosts.
 */
export interface GroupBeat {
  groupId: number;
  term: number;
  /** Heartbeat: the commit index the follower may apply; HeartbeatResp: 0. */
  commit: number;
  /** The heartbeat round (Message.context). */
  round: number;
  fromSerial: number;
  toSerial: number;
  /** Heartbeat: the leader quiesces after it (Message.force). */
  quiesce: boolean;
}

/** One Raft message of a pack. `message.from` and `message.to` do not travel (the serials do); decoded ones are ''. */
export interface PackedMessage {
  groupId: number;
  fromSerial: number;
  toSerial: number;
  message: Message;
}

/** Every group's Raft messages from one host to another, in one item. */
export interface RaftPackItem {
  kind: 'raftPack';
  messages: PackedMessage[];
}

/** A replica's state hash at an applied index (group/state-hash.ts), for its group's other hosts. */
export interface GroupStateHash {
  groupId: number;
  index: number;
  /** Lowercase hex, at most MAX_STATE_HASH_BYTES bytes. */
  hash: string;
}

/**
 * Every group's heartbeat from one host to another in one item (and likewise the responses). It
 * may also carry state hashes of the sender's replicas (and then no beats at all).
 */
export interface CoalescedHeartbeatItem {
  kind: 'heartbeat' | 'heartbeatResp';
  from: HostId;
  to: HostId;
  beats: GroupBeat[];
  stateHashes?: GroupStateHash[];
}

/** admin: fleet housekeeping between hosts (fleet/admin.ts), JSON payload. */
export type RequestKind = 'command' | 'query' | 'admin';
export type Consistency = 'linearizable' | 'lease' | 'local';

/** A client call forwarded to the host believed to lead the group. */
export interface ClientRequestItem {
  kind: 'clientRequest';
  /** Chosen by the sending host, unique among its outstanding requests; echoed in the response. */
  requestId: number;
  group: string;
  requestKind: RequestKind;
  payload: Uint8Array;
  /** Client session (client id, sequence) that makes a retried command apply once. */
  clientId: string;
  seq: number;
  /** The lowest seq this client has no reply for yet: the group may forget replies below it. */
  ackedBelow: number;
  /** Meaningful for queries; commands are always linearizable. */
  consistency: Consistency;
  /** What is left of the caller's deadline, so the receiver does not work past it. */
  timeoutMs: number;
}

export interface ClientResponseItem {
  kind: 'clientResponse';
  requestId: number;
  /**
   * Null on success. A COMMAND_FAILED from a machine error with a code carries it, and its details
   * as JSON text (group/machine-error.ts); hosts before machine codes send neither.
   */
  error: { code: ErrorCode; message: string; machineCode?: string; machineDetails?: string } | null;
  payload: Uint8Array;
  /** Where the leader is believed to be ('' when unknown) and its term, for the leader cache. */
  leaderHint: HostId;
  leaderTerm: number;
}

/** up: serving; draining: deactivating, members moving off; stopping: about to go away. */
export type Liveness = 'up' | 'draining' | 'stopping';

/** A data directory's generation as its host presents it (fleet/generation.ts). */
export interface DataGenerationField {
  incarnation: string;
  process: number;
  floor: number;
  current: number;
}

/**
 * Host liveness, once per host pair. `sentAt` is the pinger's clock reading, echoed by the pong.
 * A ping may carry the sender's data directory generation, and the pong answering it the verdict
 * (fleet/generation-gate.ts stamps both); hosts that predate them send neither.
 */
export interface HostPingItem {
  kind: 'ping' | 'pong';
  sentAt: number;
  liveness: Liveness;
  generation?: DataGenerationField;
  verdict?: { stale: boolean; recorded: number; process: number };
}

/** Everything the host loop sends and receives through a Transport. */
export type Item = RaftItem | RaftPackItem | CoalescedHeartbeatItem | ClientRequestItem | ClientResponseItem | HostPingItem;

/**
 * The connection handshake (see handshake.ts); only ws-transport sees these. The dialer sends
 * hello and auth, the acceptor challenge and accept.
 */
export type HandshakeItem =
  | { kind: 'hello'; hostId: HostId; incarnation: string; nonce: Uint8Array; features: number }
  | { kind: 'challenge'; hostId: HostId; incarnation: string; nonce: Uint8Array; features: number }
  | { kind: 'auth'; proof: Uint8Array }
  | { kind: 'accept'; proof: Uint8Array };

export type WireItem = Item | HandshakeItem;
