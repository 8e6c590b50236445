// The on-disk format every engine shares: binary keys that sort so that all records of one group
// are contiguous (one range to load, one range to delete), and hand-written record codecs
// (DataView, no JSON on the entry path).
//
// Key layout (big-endian, so byte order is numeric order):
//   [0x00]                                       format version
//   [0x01][group u32][kind u8]                   hard state (1), applied index (2), snapshot (3)
//   [0x01][group u32][0x04][index u64]           log entry
//   [0x02][UTF-8 key]                            host-level metadata
// The group id comes before the record kind so a group's records, entries last, form one range.
//
// Numbers below 2^53 are stored as u64 (two u32 halves); decoding rejects anything larger.

import type { Entry, HardState, Membership, Snapshot } from '../raft/types.js';
import { EntryType } from '../raft/types.js';

/** Bump when the format changes; a store refuses data written by a newer version. */
export const FORMAT_VERSION = 1;

const TAG_VERSION = 0x00;
const TAG_GROUP = 0x01;
const TAG_META = 0x02;

export enum RecordKind {
  HardState = 1,
  Applied = 2,
  Snapshot = 3,
  Entry = 4,
}

export const MAX_GROUP_ID = 0xffff_ffff;
/** Upper bound of an index range (exclusive); every real index is below it. */
export const INDEX_LIMIT = 2 ** 53;

const TWO_32 = 2 ** 32;
/** The high half of a u64 holding a safe integer is below 2^21. */
const SAFE_HIGH_LIMIT = 2 ** 21;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** A stored record whose bytes do not decode; the store reports it as STORAGE_CORRUPT. */
export class DecodeError extends Error {}

export const VERSION_KEY = Uint8Array.of(TAG_VERSION);
/** Every group record lies below GROUPS_END (and at or above groupStart(0)). */
export const GROUPS_END = Uint8Array.of(TAG_GROUP + 1);

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// The records a loop turn writes (keys, entries, hard states) are built on the write path of every
// command: they come from Node's pooled allocator (a slice of a shared slab, not an ArrayBuffer of
// their own) and get their big-endian integers byte by byte, not through a DataView each.
// Every byte of them is written.
function alloc(size: number): Uint8Array {
  return Buffer.allocUnsafe(size);
}

function putU32(out: Uint8Array, offset: number, n: number): void {
  out[offset] = n >>> 24;
  out[offset + 1] = n >>> 16;
  out[offset + 2] = n >>> 8;
  out[offset + 3] = n;
}

function putU64(out: Uint8Array, offset: number, n: number): void {
  putU32(out, offset, Math.floor(n / TWO_32));
  putU32(out, offset + 4, n >>> 0);
}

function readU64(v: DataView, offset: number): number {
  const high = v.getUint32(offset);
  if (high >= SAFE_HIGH_LIMIT) throw new DecodeError(`number at byte ${offset} exceeds 2^53`);
  return high * TWO_32 + v.getUint32(offset + 4);
}

/** The first key of a group's records: [tag][group]. */
export function groupStart(groupId: number): Uint8Array {
  const key = alloc(5);
  key[0] = TAG_GROUP;
  putU32(key, 1, groupId);
  return key;
}

/** The first key after every record of the group. */
export function groupEnd(groupId: number): Uint8Array {
  return groupId === MAX_GROUP_ID ? GROUPS_END : groupStart(groupId + 1);
}

/** The key of a group's single-record kinds; for Entry it is the start of the log range. */
export function groupKey(groupId: number, kind: RecordKind): Uint8Array {
  const key = alloc(6);
  key[0] = TAG_GROUP;
  putU32(key, 1, groupId);
  key[5] = kind;
  return key;
}

export function entryKey(groupId: number, index: number): Uint8Array {
  const key = alloc(14);
  key[0] = TAG_GROUP;
  putU32(key, 1, groupId);
  key[5] = RecordKind.Entry;
  putU64(key, 6, index);
  return key;
}

/** A group key taken apart; `index` is set for log entries only. */
export interface GroupKey {
  groupId: number;
  kind: number;
  index: number;
}

export function parseGroupKey(key: Uint8Array): GroupKey {
  if (key.length < 6 || key[0] !== TAG_GROUP) throw new DecodeError('not a group record key');
  const v = view(key);
  const kind = key[5] ?? 0;
  const groupId = v.getUint32(1);
  if (kind === RecordKind.Entry) {
    if (key.length !== 14) throw new DecodeError('log entry key of wrong length');
    return { groupId, kind, index: readU64(v, 6) };
  }
  if (key.length !== 6) throw new DecodeError(`record key of kind ${kind} has wrong length`);
  return { groupId, kind, index: 0 };
}

export function metaKey(name: string): Uint8Array {
  const encoded = utf8.encode(name);
  const key = new Uint8Array(encoded.length + 1);
  key[0] = TAG_META;
  key.set(encoded, 1);
  return key;
}

export function metaName(key: Uint8Array): string {
  return decodeUtf8(key.subarray(1));
}

/** The smallest key above every key that starts with `prefix` (prefix has a byte below 0xff). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  let end = prefix.length;
  while (end > 0 && prefix[end - 1] === 0xff) end--;
  if (end === 0) throw new RangeError('a prefix of only 0xff bytes has no end key');
  const out = prefix.slice(0, end);
  out[end - 1] = (out[end - 1] ?? 0) + 1;
  return out;
}

// --- records -------------------------------------------------------------------------------

export function encodeVersion(version: number): Uint8Array {
  const out = alloc(4);
  putU32(out, 0, version);
  return out;
}

export function decodeVersion(bytes: Uint8Array): number {
  if (bytes.length !== 4) throw new DecodeError(`format version record of ${bytes.length} bytes`);
  return view(bytes).getUint32(0);
}

/** Entry value: [type u8][term u64][data]; the index lives in the key. */
export function encodeEntry(entry: Entry): Uint8Array {
  const out = alloc(9 + entry.data.length);
  out[0] = entry.type;
  putU64(out, 1, entry.term);
  out.set(entry.data, 9);
  return out;
}

export function decodeEntry(index: number, bytes: Uint8Array): Entry {
  if (bytes.length < 9) throw new DecodeError(`entry record of ${bytes.length} bytes`);
  const type = bytes[0];
  if (type !== EntryType.Normal && type !== EntryType.Config) {
    throw new DecodeError(`unknown entry type ${type}`);
  }
  return { index, term: readU64(view(bytes), 1), type, data: bytes.subarray(9) };
}

/** Hard state value: [term u64][commit u64][vote UTF-8]. */
export function encodeHardState(hs: HardState): Uint8Array {
  const vote = utf8.encode(hs.vote);
  const out = alloc(16 + vote.length);
  putU64(out, 0, hs.term);
  putU64(out, 8, hs.commit);
  out.set(vote, 16);
  return out;
}

export function decodeHardState(bytes: Uint8Array): HardState {
  if (bytes.length < 16) throw new DecodeError(`hard state record of ${bytes.length} bytes`);
  const v = view(bytes);
  return { term: readU64(v, 0), commit: readU64(v, 8), vote: decodeUtf8(bytes.subarray(16)) };
}

export function encodeApplied(index: number): Uint8Array {
  const out = alloc(8);
  putU64(out, 0, index);
  return out;
}

export function decodeApplied(bytes: Uint8Array): number {
  if (bytes.length !== 8) throw new DecodeError(`applied record of ${bytes.length} bytes`);
  return readU64(view(bytes), 0);
}

/**
 * Snapshot value: [index u64][term u64][membership length u32][membership JSON][data].
 * Membership is small and rare, so JSON is fine there.
 */
export function encodeSnapshot(snapshot: Snapshot): Uint8Array {
  const { voters, learners } = snapshot.meta.membership;
  const membership = utf8.encode(JSON.stringify({ voters, learners }));
  const out = new Uint8Array(20 + membership.length + snapshot.data.length);
  putU64(out, 0, snapshot.meta.index);
  putU64(out, 8, snapshot.meta.term);
  putU32(out, 16, membership.length);
  out.set(membership, 20);
  out.set(snapshot.data, 20 + membership.length);
  return out;
}

export function decodeSnapshot(bytes: Uint8Array): Snapshot {
  if (bytes.length < 20) throw new DecodeError(`snapshot record of ${bytes.length} bytes`);
  const v = view(bytes);
  const length = v.getUint32(16);
  if (20 + length > bytes.length) throw new DecodeError('snapshot membership overruns the record');
  const membership = parseMembership(decodeUtf8(bytes.subarray(20, 20 + length)));
  return {
    meta: { index: readU64(v, 0), term: readU64(v, 8), membership },
    data: bytes.subarray(20 + length),
  };
}

// --- host metadata records of the data directory's generation (fleet/generation.ts) --------
// A data directory without them is at generation 0 and has recorded no peer.

/** The directory's own generation: [generation u64]. */
export function encodeGeneration(generation: number): Uint8Array {
  const out = alloc(8);
  putU64(out, 0, generation);
  return out;
}

export function decodeGeneration(bytes: Uint8Array): number {
  if (bytes.length !== 8) throw new DecodeError(`generation record of ${bytes.length} bytes`);
  return readU64(view(bytes), 0);
}

/** What this host heard of a peer's directory: [generation u64][process u64][incarnation UTF-8]. */
export function encodePeerGeneration(record: { incarnation: string; process: number; generation: number }): Uint8Array {
  const incarnation = utf8.encode(record.incarnation);
  const out = alloc(16 + incarnation.length);
  putU64(out, 0, record.generation);
  putU64(out, 8, record.process);
  out.set(incarnation, 16);
  return out;
}

export function decodePeerGeneration(bytes: Uint8Array): { incarnation: string; process: number; generation: number } {
  if (bytes.length < 16) throw new DecodeError(`peer generation record of ${bytes.length} bytes`);
  const v = view(bytes);
  return { generation: readU64(v, 0), process: readU64(v, 8), incarnation: decodeUtf8(bytes.subarray(16)) };
}

/** The mark of a directory a peer found stale: [recorded u64][found u64][peer UTF-8]. */
export function encodeStaleMark(mark: { peer: string; recorded: number; found: number }): Uint8Array {
  const peer = utf8.encode(mark.peer);
  const out = alloc(16 + peer.length);
  putU64(out, 0, mark.recorded);
  putU64(out, 8, mark.found);
  out.set(peer, 16);
  return out;
}

export function decodeStaleMark(bytes: Uint8Array): { peer: string; recorded: number; found: number } {
  if (bytes.length < 16) throw new DecodeError(`stale mark record of ${bytes.length} bytes`);
  const v = view(bytes);
  return { recorded: readU64(v, 0), found: readU64(v, 8), peer: decodeUtf8(bytes.subarray(16)) };
}

function parseMembership(text: string): Membership {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DecodeError('snapshot membership is not JSON');
  }
  const { voters, learners } = (value ?? {}) as { voters?: unknown; learners?: unknown };
  if (!isStringArray(voters) || !isStringArray(learners)) {
    throw new DecodeError('snapshot membership lacks voters/learners string lists');
  }
  return { voters, learners };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((x) => typeof x === 'string');
}

function decodeUtf8(bytes: Uint8Array): string {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new DecodeError('invalid UTF-8');
  }
}
