// The invariants every item must satisfy, checked on both sides of the wire: before encoding (a
// violation is the sender's bug: BAD_ARGUMENT, thrown where it was made) and after decoding (a
// violation is a broken or hostile peer: TRANSPORT_PROTOCOL, and the connection is closed).
// Checking before encoding also means one bad item can never make a healthy peer drop the link.
import { FlotillaError, type ErrorCode } from '../common/errors.js';
import { EntryType, MessageType, type Message, type SnapshotChunk } from '../raft/types.js';
import { isPackable } from './raft-pack.js';
import type { DataGenerationField, GroupBeat, GroupStateHash, WireItem } from './items.js';

const MAX_UINT32 = 0xffff_ffff;
/** The longest state hash (GroupStateHash) a host sends or accepts, in bytes. */
export const MAX_STATE_HASH_BYTES = 32;
const MESSAGE_TYPES = new Set<unknown>(Object.values(MessageType).filter((v) => typeof v === 'number'));
const ENTRY_TYPES = new Set<unknown>(Object.values(EntryType).filter((v) => typeof v === 'number'));
const REQUEST_KINDS = new Set<unknown>(['command', 'query', 'admin']);
const CONSISTENCIES = new Set<unknown>(['linearizable', 'lease', 'local']);
const LIVENESSES = new Set<unknown>(['up', 'draining', 'stopping']);

class Checker {
  constructor(private readonly code: ErrorCode) {}

  fail(what: string): never {
    throw new FlotillaError(this.code, `invalid transport item: ${what}`);
  }

  /** A uint64 field: a non-negative integer JS numbers represent exactly (below 2^53). */
  uint(value: unknown, field: string): void {
    if (!Number.isSafeInteger(value) || (value as number) < 0) this.fail(`${field} = ${String(value)} is not an integer in [0, 2^53)`);
  }

  uint32(value: unknown, field: string): void {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_UINT32) {
      this.fail(`${field} = ${String(value)} is not a uint32`);
    }
  }

  string(value: unknown, field: string): void {
    if (typeof value !== 'string') this.fail(`${field} is not a string`);
  }

  bytes(value: unknown, field: string): void {
    if (!(value instanceof Uint8Array)) this.fail(`${field} is not a Uint8Array`);
  }

  oneOf(value: unknown, allowed: Set<unknown>, field: string): void {
    if (!allowed.has(value)) this.fail(`${field} = ${String(value)} is not a known value`);
  }

  message(m: Message): void {
    this.oneOf(m.type, MESSAGE_TYPES, 'message.type');
    this.string(m.from, 'message.from');
    this.string(m.to, 'message.to');
    this.uint(m.term, 'message.term');
    this.uint(m.logTerm, 'message.logTerm');
    this.uint(m.index, 'message.index');
    this.uint(m.commit, 'message.commit');
    this.uint(m.rejectHint, 'message.rejectHint');
    this.uint(m.context, 'message.context');
    if (!Array.isArray(m.entries)) this.fail('message.entries is not an array');
    for (const e of m.entries) {
      this.uint(e.index, 'entry.index');
      this.uint(e.term, 'entry.term');
      this.oneOf(e.type, ENTRY_TYPES, 'entry.type');
      this.bytes(e.data, 'entry.data');
    }
    if (m.type === MessageType.Snapshot && m.snapshot === null) this.fail('a Snapshot message without its chunk');
    if (m.snapshot !== null) this.chunk(m.snapshot);
  }

  chunk(c: SnapshotChunk): void {
    this.uint(c.meta.index, 'snapshot.meta.index');
    this.uint(c.meta.term, 'snapshot.meta.term');
    for (const id of [...c.meta.membership.voters, ...c.meta.membership.learners]) this.string(id, 'membership id');
    this.uint(c.offset, 'snapshot.offset');
    this.uint(c.total, 'snapshot.total');
    this.bytes(c.data, 'snapshot.data');
    if (c.offset + c.data.length > c.total) this.fail(`snapshot chunk [${c.offset}, +${c.data.length}) beyond total ${c.total}`);
  }

  beats(beats: GroupBeat[]): void {
    for (const b of beats) {
      this.uint32(b.groupId, 'beat.groupId');
      this.uint(b.term, 'beat.term');
      this.uint(b.commit, 'beat.commit');
      this.uint(b.round, 'beat.round');
      this.uint32(b.fromSerial, 'beat.fromSerial');
      this.uint32(b.toSerial, 'beat.toSerial');
    }
  }

  stateHashes(hashes: GroupStateHash[]): void {
    for (const h of hashes) {
      this.uint32(h.groupId, 'stateHash.groupId');
      this.uint(h.index, 'stateHash.index');
      if (typeof h.hash !== 'string' || !/^(?:[0-9a-f]{2}){1,32}$/.test(h.hash)) this.fail(`stateHash.hash is not 1 to ${MAX_STATE_HASH_BYTES} bytes of lowercase hex`);
    }
  }

  generation(g: DataGenerationField): void {
    this.string(g.incarnation, 'generation.incarnation');
    this.uint(g.process, 'generation.process');
    this.uint(g.floor, 'generation.floor');
    this.uint(g.current, 'generation.current');
    if (g.floor > g.current) this.fail(`generation.floor ${g.floor} above generation.current ${g.current}`);
  }

  item(item: WireItem): void {
    switch (item.kind) {
      case 'raft':
        this.uint32(item.groupId, 'groupId');
        this.message(item.message);
        return;
      case 'raftPack':
        for (const p of item.messages) {
          this.uint32(p.groupId, 'groupId');
          this.uint(p.fromSerial, 'fromSerial');
          this.uint(p.toSerial, 'toSerial');
          this.message(p.message);
          if (!isPackable(p.message)) this.fail(`a ${MessageType[p.message.type]} message that cannot be packed (a snapshot chunk, or entries not following its index)`);
        }
        return;
      case 'heartbeat':
      case 'heartbeatResp':
        this.string(item.from, 'heartbeat.from');
        this.string(item.to, 'heartbeat.to');
        this.beats(item.beats);
        if (item.stateHashes !== undefined) this.stateHashes(item.stateHashes);
        return;
      case 'clientRequest':
        this.uint(item.requestId, 'requestId');
        this.string(item.group, 'group');
        this.oneOf(item.requestKind, REQUEST_KINDS, 'requestKind');
        this.bytes(item.payload, 'payload');
        this.string(item.clientId, 'clientId');
        this.uint(item.seq, 'seq');
        this.oneOf(item.consistency, CONSISTENCIES, 'consistency');
        this.uint32(item.timeoutMs, 'timeoutMs');
        this.uint(item.ackedBelow, 'ackedBelow');
        return;
      case 'clientResponse':
        this.uint(item.requestId, 'requestId');
        if (item.error !== null) this.string(item.error.message, 'error.message');
        this.bytes(item.payload, 'payload');
        this.string(item.leaderHint, 'leaderHint');
        this.uint(item.leaderTerm, 'leaderTerm');
        return;
      case 'ping':
      case 'pong':
        this.uint(item.sentAt, 'sentAt');
        this.oneOf(item.liveness, LIVENESSES, 'liveness');
        if (item.generation !== undefined) this.generation(item.generation);
        if (item.verdict !== undefined) {
          this.uint(item.verdict.recorded, 'verdict.recorded');
          this.uint(item.verdict.process, 'verdict.process');
        }
        return;
      case 'hello':
      case 'challenge':
        this.string(item.hostId, `${item.kind}.hostId`);
        if (item.hostId === '') this.fail(`${item.kind} without a host id`);
        this.string(item.incarnation, `${item.kind}.incarnation`);
        this.bytes(item.nonce, `${item.kind}.nonce`);
        this.uint32(item.features, `${item.kind}.features`);
        return;
      case 'auth':
      case 'accept':
        this.bytes(item.proof, `${item.kind}.proof`);
        return;
      default:
        this.fail(`unknown kind ${String((item as { kind: unknown }).kind)}`);
    }
  }
}

const beforeEncode = new Checker('BAD_ARGUMENT');
const afterDecode = new Checker('TRANSPORT_PROTOCOL');

/** Throws FlotillaError BAD_ARGUMENT if `item` cannot be sent as it is. */
export function checkOutgoing(item: WireItem): void {
  beforeEncode.item(item);
}

/** Throws FlotillaError TRANSPORT_PROTOCOL if a decoded item breaks an invariant. */
export function checkIncoming(item: WireItem): void {
  afterDecode.item(item);
}
