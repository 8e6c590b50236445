// The most bytes each kind of item can take on the wire besides its payload: what the size limits
// (fleet/limits.ts) are derived from, so that an item within them always fits a frame.
//
// Worst cases of proto/flotilla.proto as protobufjs writes it: every field present (it skips only
// default values, so counting every field bounds them all), each tag 1 byte (field numbers below
// 16), a uint64 below 2^53 at most 8 bytes of varint, a uint32 at most 5, an enum or a bool 1, and a
// length prefix no longer than the prefix of the largest envelope. The bounds are exact: an Append,
// a snapshot chunk, a request or a response with every field at its worst is exactly this big
// (test/fleet/limits.test.ts).
import { FRAME_OVERHEAD } from './codec.js';
import { varintBytes } from './varint.js';
import { MAX_STATE_HASH_BYTES } from './validate.js';

const TAG = 1;
const U64 = TAG + 8;
const U32 = TAG + 5;
/** An enum or a bool. */
const SMALL = TAG + 1;

/** A length-delimited field (string, bytes, sub-message) of at most `bytes` bytes. */
function delimited(bytes: number): number {
  return TAG + varintBytes(bytes) + bytes;
}

/** The longest length-delimited value that, with its length prefix, takes at most `bytes`. */
function longestWithin(bytes: number): number {
  let n = bytes - 1;
  while (varintBytes(n) + n > bytes) n--;
  return n;
}

/** The largest envelope a frame of `maxFrameBytes` carries (alone): less the version field, the item's tag and length. */
export function maxEnvelopeBytes(maxFrameBytes: number): number {
  return longestWithin(maxFrameBytes - FRAME_OVERHEAD - TAG);
}

/** The most an envelope's one item (the message inside its oneof field) may take. */
export function maxBodyBytes(envelopeBytes: number): number {
  return longestWithin(envelopeBytes - TAG);
}

/** A RaftMessage's fields besides its entries and snapshot chunk, with member ids of at most `memberIdBytes`. */
export function raftFieldsBytes(memberIdBytes: number): number {
  // group_id, type, from, to, term, log_term, index, commit, reject, reject_hint, context, force
  return U32 + SMALL + 2 * delimited(memberIdBytes) + 4 * U64 + SMALL + 2 * U64 + SMALL;
}

/** What one entry of an Append costs beyond its data: its field's tag and length, index, term, type, data's tag and length. */
export function entryOverheadBytes(bodyBytes: number): number {
  const prefix = TAG + varintBytes(bodyBytes);
  return prefix + U64 + U64 + SMALL + prefix;
}

/**
 * A Snapshot message's chunk field besides the chunk's data and the members of its meta: the
 * chunk's field, meta (index, term, the membership's field), offset, total, the data's tag and length.
 */
export function snapshotChunkOverheadBytes(bodyBytes: number): number {
  const prefix = TAG + varintBytes(bodyBytes);
  return prefix + prefix + U64 + U64 + prefix + U64 + U64 + prefix;
}

/** One member id in a snapshot chunk's membership. */
export function snapshotMemberBytes(memberIdBytes: number): number {
  return delimited(memberIdBytes);
}

/** A ClientRequest besides its payload's data, with a group name and client id of at most the given bytes. */
export function requestOverheadBytes(bodyBytes: number, groupBytes: number, clientIdBytes: number): number {
  // request_id, group, kind, payload's tag and length, client_id, seq, consistency, timeout_ms, acked_below
  return U64 + delimited(groupBytes) + SMALL + TAG + varintBytes(bodyBytes) + delimited(clientIdBytes) + U64 + SMALL + U32 + U64;
}

/**
 * A ClientResponse besides its payload's data (a success), with a leader hint of at most
 * `hostIdBytes`. A failure costs the same besides its error message: its error code takes the
 * place of `ok`, its message that of the (then empty) payload.
 */
export function responseOverheadBytes(bodyBytes: number, hostIdBytes: number): number {
  // request_id, ok, payload's tag and length, leader_hint, leader_term
  return U64 + SMALL + TAG + varintBytes(bodyBytes) + delimited(hostIdBytes) + U64;
}

/** A coalesced heartbeat besides its beats: its from and to, each packed array's tag and length. */
export function heartbeatOverheadBytes(bodyBytes: number, hostIdBytes: number): number {
  return 2 * delimited(hostIdBytes) + 7 * (TAG + varintBytes(bodyBytes));
}

/** One beat: group id, term, commit, round, both serials, and its position in the quiescing array. */
export const BEAT_BYTES = 5 + 8 + 8 + 8 + 5 + 5 + 5;

/** One state hash in a coalesced heartbeat: its field's tag and length (under 128), group id, index, hash. */
export const STATE_HASH_BYTES = TAG + 1 + U32 + U64 + TAG + 1 + MAX_STATE_HASH_BYTES;
