// Every group's Raft messages from one host to another in one item: a pack. At 100 busy groups a
// host's turn sends each peer dozens of Appends and AppendResps; as separate protobuf items each
// cost an object tree, an encode, an envelope and a decode, and those grew a command's CPU with
// the number of groups (bench/README.md). A pack is one envelope holding one bytes field, written
// and read here by hand in one pass: no protobuf object per message; entry data are copied into
// the pack and, on receipt, out of the frame once per message (ownEntryData: kept entries must not
// pin frames).
//
// A member is named by its serial on the pack's sending or receiving host (the frame's sender and
// receiver), as in coalesced heartbeats; entry indexes are implied by the message's index (an
// Append's entries follow its previous index). Snapshot chunks are not packed (they travel alone).
//
// Layout of the bytes, numbers as unsigned LEB128 varints (below 2^53) unless marked u8:
//   message*  where message = group id, type (u8), from serial, to serial, term, log term, index,
//             commit, flags (u8: 1 reject, 2 force), reject hint, context, entry count, entry*
//   entry     = term, type (u8), data length, data
import { FlotillaError } from '../common/errors.js';
import { EntryType, MessageType, type Entry, type Message } from '../raft/types.js';
import type { PackedMessage } from './items.js';
import { varintBytes, writeVarint } from './varint.js';


const REJECT = 1;
const FORCE = 2;
const MAX_UINT32 = 0xffff_ffff;
const EMPTY = new Uint8Array(0);
const PACKABLE_TYPES = new Set<number>([
  MessageType.Vote, MessageType.VoteResp, MessageType.PreVote, MessageType.PreVoteResp, MessageType.Append,
  MessageType.AppendResp, MessageType.Heartbeat, MessageType.HeartbeatResp, MessageType.SnapshotResp, MessageType.TimeoutNow,
]);
const ENTRY_TYPES = new Set<number>([EntryType.Normal, EntryType.Config]);

/** Whether `m` can travel in a pack: not a snapshot chunk, and its entries follow its index. */
export function isPackable(m: Message): boolean {
  if (!PACKABLE_TYPES.has(m.type) || m.snapshot !== null) return false;
  for (let i = 0; i < m.entries.length; i++) if ((m.entries[i] as Entry).index !== m.index + 1 + i) return false;
  return true;
}

/** The exact bytes `p` takes in a pack (it must be packable). */
export function packedBytes(p: PackedMessage): number {
  const m = p.message;
  let bytes = varintBytes(p.groupId) + 1 + varintBytes(p.fromSerial) + varintBytes(p.toSerial) + varintBytes(m.term) + varintBytes(m.logTerm);
  bytes += varintBytes(m.index) + varintBytes(m.commit) + 1 + varintBytes(m.rejectHint) + varintBytes(m.context) + varintBytes(m.entries.length);
  for (const e of m.entries) bytes += varintBytes(e.term) + 1 + varintBytes(e.data.length) + e.data.length;
  return bytes;
}

/** The exact bytes `messages` take in a pack. */
export function packBytes(messages: readonly PackedMessage[]): number {
  let bytes = 0;
  for (const p of messages) bytes += packedBytes(p);
  return bytes;
}

/** Writes varints and bytes into a buffer sized in advance. */
class PackWriter {
  at = 0;
  constructor(readonly out: Uint8Array) {}

  varint(n: number): void {
    this.at = writeVarint(this.out, this.at, n);
  }

  byte(n: number): void {
    this.out[this.at++] = n;
  }

  bytes(b: Uint8Array): void {
    this.out.set(b, this.at);
    this.at += b.length;
  }
}

/** Writes `messages` (each packable) into `out` at `offset`, which has room for them; returns the offset after them. */
export function writePack(messages: readonly PackedMessage[], out: Uint8Array, offset: number): number {
  const w = new PackWriter(out);
  w.at = offset;
  for (const p of messages) {
    const m = p.message;
    w.varint(p.groupId);
    w.byte(m.type);
    w.varint(p.fromSerial);
    w.varint(p.toSerial);
    w.varint(m.term);
    w.varint(m.logTerm);
    w.varint(m.index);
    w.varint(m.commit);
    w.byte((m.reject ? REJECT : 0) | (m.force ? FORCE : 0));
    w.varint(m.rejectHint);
    w.varint(m.context);
    w.varint(m.entries.length);
    for (const e of m.entries) {
      w.varint(e.term);
      w.byte(e.type);
      w.varint(e.data.length);
      w.bytes(e.data);
    }
  }
  return w.at;
}

function bad(what: string): never {
  throw new FlotillaError('TRANSPORT_PROTOCOL', `invalid frame: raft pack ${what}`);
}

/** Reads a pack, checking every field as it goes. */
class PackReader {
  private at = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get done(): boolean {
    return this.at >= this.bytes.length;
  }

  varint(field: string): number {
    let n = 0;
    let scale = 1;
    for (;;) {
      if (this.at >= this.bytes.length) bad(`truncated in ${field}`);
      const b = this.bytes[this.at++] as number;
      n += (b & 127) * scale;
      if (b < 128) break;
      scale *= 128;
      if (scale > 2 ** 49) bad(`${field} is longer than 8 bytes`);
    }
    if (n > Number.MAX_SAFE_INTEGER) bad(`${field} = ${n} is not below 2^53`);
    return n;
  }

  uint32(field: string): number {
    const n = this.varint(field);
    if (n > MAX_UINT32) bad(`${field} = ${n} is not a uint32`);
    return n;
  }

  byte(field: string): number {
    if (this.at >= this.bytes.length) bad(`truncated in ${field}`);
    return this.bytes[this.at++] as number;
  }

  /** A view of the next `length` bytes (no copy, as protobufjs's bytes fields). */
  view(length: number, field: string): Uint8Array {
    if (length > this.bytes.length - this.at) bad(`${field} of ${length} bytes runs past the end`);
    const v = length === 0 ? EMPTY : this.bytes.subarray(this.at, this.at + length);
    this.at += length;
    return v;
  }

  remaining(): number {
    return this.bytes.length - this.at;
  }
}

/** Decodes a pack's bytes; throws FlotillaError TRANSPORT_PROTOCOL on anything malformed. Entry data are copied out of `bytes` (ownEntryData). */
export function readPack(bytes: Uint8Array): PackedMessage[] {
  const r = new PackReader(bytes);
  const out: PackedMessage[] = [];
  while (!r.done) out.push(readMessage(r));
  return out;
}

/**
 * Copies a message's entry data out of the frame into one buffer of their own (one allocation per
 * message, one copy per entry): a follower keeps entries in its log until a snapshot compacts them,
 * and a view would keep the whole received frame alive, shared by every group of the pack, as long
 * as any one group keeps one of its entries (an idle group's last entries, for good). The buffer is
 * this group's alone, and its entries are compacted together.
 */
function ownEntryData(entries: Entry[]): void {
  let total = 0;
  for (const e of entries) total += e.data.length;
  if (total === 0) return;
  const own = new Uint8Array(total);
  let at = 0;
  for (const e of entries) {
    if (e.data.length === 0) continue;
    own.set(e.data, at);
    e.data = own.subarray(at, at + e.data.length);
    at += e.data.length;
  }
}

function readMessage(r: PackReader): PackedMessage {
  const groupId = r.uint32('group id');
  const type = r.byte('type');
  if (!PACKABLE_TYPES.has(type)) bad(`message type ${type} is not one a pack carries`);
  const fromSerial = r.varint('from serial');
  const toSerial = r.varint('to serial');
  const term = r.varint('term');
  const logTerm = r.varint('log term');
  const index = r.varint('index');
  const commit = r.varint('commit');
  const flags = r.byte('flags');
  if (flags > (REJECT | FORCE)) bad(`flags ${flags}`);
  const rejectHint = r.varint('reject hint');
  const context = r.varint('context');
  const count = r.varint('entry count');
  // Each entry takes at least 3 bytes: a count beyond that is a lie, refused before allocating.
  if (count > r.remaining() / 3) bad(`entry count ${count} beyond its ${r.remaining()} bytes`);
  if (count > 0 && index + count > Number.MAX_SAFE_INTEGER) bad(`entries beyond index 2^53`);
  const entries = new Array<Entry>(count);
  for (let i = 0; i < count; i++) {
    const entryTerm = r.varint('entry term');
    const entryType = r.byte('entry type');
    if (!ENTRY_TYPES.has(entryType)) bad(`entry type ${entryType}`);
    const data = r.view(r.varint('entry length'), 'entry data');
    entries[i] = { index: index + 1 + i, term: entryTerm, type: entryType, data };
  }
  ownEntryData(entries);
  const message: Message = {
    type, from: '', to: '', term, logTerm, index, entries, commit,
    reject: (flags & REJECT) !== 0, rejectHint, context, force: (flags & FORCE) !== 0, snapshot: null,
  };
  return { groupId, fromSerial, toSerial, message };
}
