// Every size limit of a fleet, derived from one number, the transport's frame, each from the one
// before it, so that whatever a host accepts can always travel: no command, reply or Raft message
// that a host lets in is ever refused by the transport as too large (that would be a bug, logged
// and counted as flotilla_transport_items_too_large_total). With the default 4 MiB frame:
//
//   frame     4,194,304  maxFrameBytes: the largest WebSocket message a host sends or accepts
//   envelope  4,194,297  one item alone in a frame: less the frame's version field, the item's tag and length
//   body      4,194,292  the item's message inside its envelope: less its tag and length
//   Append    4,193,930  entry bytes of one Append, each entry counted as its data plus its 30 bytes
//                        of framing: the body less the message's other fields, with two 145-byte
//                        member ids (a 128-character host id, '~', a 16-digit serial)
//   entry     4,193,900  maxEntryBytes: the largest log entry's data, one entry alone filling an Append
//   command   4,192,857  maxCommandBytes: the largest command (its machine codec's bytes): the entry
//                        less the group's envelope with a session of a 1,024-byte client id
//   query     4,193,092  maxQueryBytes: the largest query or admin request: the body less a request's
//                        fields with a 128-character group name and a 1,024-byte client id; a command
//                        is below it, so any command's request fits too
//   reply     4,194,136  maxReplyBytes: the largest reply: the body less a response's fields with a
//                        128-character leader hint (above the command: a reply that echoes a command fits)
//   batch     1,048,576  maxAppendBytes: entry bytes Raft batches into one Append (the Append's bytes at
//                        most); a larger entry travels alone
//   chunk     1,048,576  snapshotChunkBytes: snapshot data per chunk message (at most half of what the
//                        chunk's message can carry), leaving the rest for the chunk's membership:
//                        21,252 members at most
//   depth            64  maxJsonDepth: levels of arrays and objects in a JSON command, query or reply
//                        (not derived from the frame: group/json-value.ts says why 64)
//
// The numbers are protocol constants: every host derives the same ones from the same frame, so no
// host sends what its peers refuse. A host whose transport had a larger frame than its peers would
// send Appends they close the connection on (test/fleet/limits.test.ts pins the numbers above).
import { FlotillaError } from '../common/errors.js';
import { maxPayloadBytes } from '../group/entry-format.js';
import { MAX_JSON_DEPTH } from '../group/json-value.js';
import { MAX_CLIENT_ID_BYTES } from '../group/sessions.js';
import {
  entryOverheadBytes,
  maxBodyBytes,
  maxEnvelopeBytes,
  raftFieldsBytes,
  requestOverheadBytes,
  responseOverheadBytes,
  snapshotChunkOverheadBytes,
  snapshotMemberBytes,
} from '../transport/wire-size.js';
import { MAX_MEMBER_ID_BYTES } from './member-id.js';
import { MAX_NAME_LENGTH } from './names.js';

export interface FleetLimits {
  maxFrameBytes: number;
  /** Raft: entry bytes batched into one Append, each entry counted as data plus entryOverheadBytes. */
  maxAppendBytes: number;
  /** Raft: what each entry counts against maxAppendBytes besides its data. */
  entryOverheadBytes: number;
  /** Raft: the largest entry's data; a larger proposal is refused. */
  maxEntryBytes: number;
  /** Raft: snapshot data bytes per chunk message. */
  snapshotChunkBytes: number;
  /** Members a group's membership may have for its snapshot chunks to fit (voters and learners). */
  maxSnapshotMembers: number;
  /** The largest command, as its machine codec's bytes. */
  maxCommandBytes: number;
  /** The largest query or admin request payload. */
  maxQueryBytes: number;
  /** The largest reply payload. */
  maxReplyBytes: number;
  /** Error messages in responses are cut to this many UTF-8 bytes (far below any frame). */
  maxErrorMessageBytes: number;
  /** Levels of arrays and objects a JSON command, query or reply nests at most; deeper is BAD_ARGUMENT. */
  maxJsonDepth: number;
}

/** Raft batches at most this much into one Append: one frame does not hold a link up for long. */
const APPEND_BATCH_BYTES = 1 << 20;
/** Snapshot data per chunk, at most. */
const SNAPSHOT_CHUNK_BYTES = 1 << 20;
const MAX_ERROR_MESSAGE_BYTES = 1024;

export function fleetLimits(maxFrameBytes: number): FleetLimits {
  const body = maxBodyBytes(maxEnvelopeBytes(maxFrameBytes));
  const appendBytes = body - raftFieldsBytes(MAX_MEMBER_ID_BYTES);
  const entryOverhead = entryOverheadBytes(body);
  const maxEntryBytes = appendBytes - entryOverhead;
  const chunkCapacity = body - raftFieldsBytes(MAX_MEMBER_ID_BYTES) - snapshotChunkOverheadBytes(body);
  const snapshotChunkBytes = Math.min(SNAPSHOT_CHUNK_BYTES, Math.floor(chunkCapacity / 2));
  const maxQueryBytes = body - requestOverheadBytes(body, MAX_NAME_LENGTH, MAX_CLIENT_ID_BYTES);
  const limits: FleetLimits = {
    maxFrameBytes,
    maxAppendBytes: Math.min(APPEND_BATCH_BYTES, appendBytes),
    entryOverheadBytes: entryOverhead,
    maxEntryBytes,
    snapshotChunkBytes,
    maxSnapshotMembers: Math.floor((chunkCapacity - snapshotChunkBytes) / snapshotMemberBytes(MAX_MEMBER_ID_BYTES)),
    maxCommandBytes: Math.min(maxPayloadBytes(maxEntryBytes), maxQueryBytes),
    maxQueryBytes,
    maxReplyBytes: body - responseOverheadBytes(body, MAX_NAME_LENGTH),
    maxErrorMessageBytes: MAX_ERROR_MESSAGE_BYTES,
    maxJsonDepth: MAX_JSON_DEPTH,
  };
  if (limits.maxCommandBytes < MAX_ERROR_MESSAGE_BYTES || limits.maxSnapshotMembers < 1) {
    throw new FlotillaError('BAD_ARGUMENT', `a frame of ${maxFrameBytes} bytes is too small for a fleet's messages`);
  }
  return limits;
}

/** A BAD_ARGUMENT naming the limit a payload is over. */
export function overLimit(what: string, bytes: number, limitName: keyof FleetLimits, limit: number): FlotillaError {
  return new FlotillaError('BAD_ARGUMENT', `${what} is ${bytes} bytes, more than ${limitName} (${limit} bytes)`, { bytes, limitName, limit });
}

/** `text` cut to at most `bytes` bytes of UTF-8 (error messages in responses). */
export function truncateUtf8(text: string, bytes: number): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let cut = text.slice(0, bytes);
  while (Buffer.byteLength(cut) > bytes) cut = cut.slice(0, -1);
  return cut;
}
