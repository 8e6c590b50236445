// Maps between the plain items of items.ts and the generated protobuf classes, and packs encoded
// items into frames.
//
// Items are encoded one by one when they are sent (so a bad item fails at its sender, and a
// queue knows its size in bytes); a flush then packs the encoded envelopes into a Frame without
// re-encoding them. Decoding checks everything: a malformed, truncated or out-of-range frame
// becomes a FlotillaError TRANSPORT_PROTOCOL, never a crash or a Long.
import protobuf from './protobuf-runtime.js';
import { flotilla } from './generated/flotilla.js';
import { FlotillaError, MAX_MACHINE_CODE_BYTES, MAX_MACHINE_DETAILS_BYTES, type ErrorCode } from '../common/errors.js';
import type { Entry, Message, SnapshotChunk } from '../raft/types.js';
import type { ClientResponseItem, CoalescedHeartbeatItem, Consistency, GroupBeat, HostPingItem, Item, Liveness, RaftPackItem, RequestKind, WireItem } from './items.js';
import { packBytes, readPack, writePack } from './raft-pack.js';
import { varintBytes, writeVarint } from './varint.js';
import { checkIncoming, checkOutgoing } from './validate.js';

/** The protocol this code speaks; a frame of any other version closes the connection. */
export const PROTOCOL_VERSION = 1;

const pb = flotilla;
const EMPTY = new Uint8Array(0);
const utf8 = new TextEncoder();

// Frame field tags: 1 = version (varint), 2 = items (length-delimited).
const VERSION_TAG = (1 << 3) | 0;
const ITEM_TAG = (2 << 3) | 2;
/** Bytes of a frame besides its envelopes: the version field. */
export const FRAME_OVERHEAD = 1 + varintBytes(PROTOCOL_VERSION);


/** Bytes an encoded envelope adds to a frame: its tag, its length prefix, itself. */
export function envelopeCost(envelope: Uint8Array): number {
  return 1 + varintBytes(envelope.length) + envelope.length;
}

// ---- enum tables. ErrorCode's is a Record so that a code added to errors.ts fails the typecheck
// here until the schema has it too.

const ERROR_CODES: Record<ErrorCode, flotilla.ErrorCode> = {
  NO_SUCH_GROUP: pb.ErrorCode.NO_SUCH_GROUP,
  GROUP_EXISTS: pb.ErrorCode.GROUP_EXISTS,
  NO_SUCH_MACHINE: pb.ErrorCode.NO_SUCH_MACHINE,
  BAD_NAME: pb.ErrorCode.BAD_NAME,
  BAD_ARGUMENT: pb.ErrorCode.BAD_ARGUMENT,
  UNAVAILABLE: pb.ErrorCode.UNAVAILABLE,
  TIMEOUT: pb.ErrorCode.TIMEOUT,
  BUSY: pb.ErrorCode.BUSY,
  NOT_ACTIVE: pb.ErrorCode.NOT_ACTIVE,
  NOT_LEADER: pb.ErrorCode.NOT_LEADER,
  SHUTTING_DOWN: pb.ErrorCode.SHUTTING_DOWN,
  COMMAND_FAILED: pb.ErrorCode.COMMAND_FAILED,
  STORAGE_FAILED: pb.ErrorCode.STORAGE_FAILED,
  STORAGE_CORRUPT: pb.ErrorCode.STORAGE_CORRUPT,
  STORAGE_VERSION: pb.ErrorCode.STORAGE_VERSION,
  STORAGE_UNAVAILABLE: pb.ErrorCode.STORAGE_UNAVAILABLE,
  STORAGE_STALE: pb.ErrorCode.STORAGE_STALE,
  TRANSPORT_AUTH: pb.ErrorCode.TRANSPORT_AUTH,
  TRANSPORT_PROTOCOL: pb.ErrorCode.TRANSPORT_PROTOCOL,
  TRANSPORT_CLOSED: pb.ErrorCode.TRANSPORT_CLOSED,
};
const REQUEST_KINDS: Record<RequestKind, flotilla.RequestKind> = {
  command: pb.RequestKind.REQUEST_KIND_COMMAND,
  query: pb.RequestKind.REQUEST_KIND_QUERY,
  admin: pb.RequestKind.REQUEST_KIND_ADMIN,
};
const CONSISTENCIES: Record<Consistency, flotilla.Consistency> = {
  linearizable: pb.Consistency.CONSISTENCY_LINEARIZABLE,
  lease: pb.Consistency.CONSISTENCY_LEASE,
  local: pb.Consistency.CONSISTENCY_LOCAL,
};
const LIVENESSES: Record<Liveness, flotilla.Liveness> = {
  up: pb.Liveness.LIVENESS_UP,
  draining: pb.Liveness.LIVENESS_DRAINING,
  stopping: pb.Liveness.LIVENESS_STOPPING,
};

function inverse<K extends string, V extends number>(table: Record<K, V>): Map<number, K> {
  return new Map(Object.entries(table).map(([k, v]) => [v as number, k as K]));
}
const ERROR_CODES_BACK = inverse(ERROR_CODES);
const REQUEST_KINDS_BACK = inverse(REQUEST_KINDS);
const CONSISTENCIES_BACK = inverse(CONSISTENCIES);
const LIVENESSES_BACK = inverse(LIVENESSES);

function bad(what: string): never {
  throw new FlotillaError('TRANSPORT_PROTOCOL', `invalid frame: ${what}`);
}

function lookup<T>(table: Map<number, T>, value: number | null | undefined, field: string): T {
  const found = table.get(value ?? 0);
  return found === undefined ? bad(`${field} = ${String(value ?? 0)} is not a known value`) : found;
}

// ---- encoding

function toWire(item: Exclude<WireItem, RaftPackItem>): flotilla.Envelope.$Properties {
  switch (item.kind) {
    case 'raft': {
      const m = item.message;
      return {
        raft: {
          groupId: item.groupId, type: m.type as number, from: m.from, to: m.to, term: m.term, logTerm: m.logTerm,
          // Entry is already the wire shape (EntryType numbering is the schema's), so no copy.
          index: m.index, entries: m.entries as unknown as flotilla.Entry.$Properties[], commit: m.commit, reject: m.reject, rejectHint: m.rejectHint,
          context: m.context, force: m.force, snapshot: m.snapshot,
        },
      };
    }
    case 'heartbeat':
    case 'heartbeatResp': {
      const n = item.beats.length;
      const beats = {
        from: item.from, to: item.to,
        groupIds: new Array<number>(n), terms: new Array<number>(n), commits: new Array<number>(n),
        rounds: new Array<number>(n), fromSerials: new Array<number>(n), toSerials: new Array<number>(n),
        quiescing: [] as number[],
      };
      for (let i = 0; i < n; i++) {
        const b = item.beats[i]!;
        beats.groupIds[i] = b.groupId;
        beats.terms[i] = b.term;
        beats.commits[i] = b.commit;
        beats.rounds[i] = b.round;
        beats.fromSerials[i] = b.fromSerial;
        beats.toSerials[i] = b.toSerial;
        if (b.quiesce) beats.quiescing.push(i);
      }
      const hashes = item.stateHashes?.map((h) => ({ groupId: h.groupId, index: h.index, hash: Buffer.from(h.hash, 'hex') }));
      const body = hashes === undefined ? beats : { ...beats, stateHashes: hashes };
      return item.kind === 'heartbeat' ? { heartbeat: body } : { heartbeatResp: body };
    }
    case 'clientRequest':
      return {
        clientRequest: {
          requestId: item.requestId, group: item.group, kind: REQUEST_KINDS[item.requestKind], payload: item.payload,
          clientId: item.clientId, seq: item.seq, consistency: CONSISTENCIES[item.consistency], timeoutMs: item.timeoutMs,
          ackedBelow: item.ackedBelow,
        },
      };
    case 'clientResponse': {
      const code = item.error === null ? pb.ErrorCode.ERROR_CODE_NONE : ERROR_CODES[item.error.code];
      if (code === undefined) throw new FlotillaError('BAD_ARGUMENT', `invalid transport item: error code ${String(item.error?.code)}`);
      return {
        clientResponse: {
          requestId: item.requestId, ok: item.error === null, errorCode: code, errorMessage: item.error?.message ?? '',
          payload: item.payload, leaderHint: item.leaderHint, leaderTerm: item.leaderTerm,
          machineCode: item.error?.machineCode ?? '', machineDetails: item.error?.machineDetails ?? '',
        },
      };
    }
    case 'ping':
      return { ping: { sentAt: item.sentAt, liveness: LIVENESSES[item.liveness], generation: item.generation ?? null } };
    case 'pong':
      return { pong: { sentAt: item.sentAt, liveness: LIVENESSES[item.liveness], generation: item.generation ?? null, verdict: item.verdict ?? null } };
    case 'hello':
      return { hello: { hostId: item.hostId, incarnation: item.incarnation, nonce: item.nonce, features: item.features } };
    case 'challenge':
      return { challenge: { hostId: item.hostId, incarnation: item.incarnation, nonce: item.nonce, features: item.features } };
    case 'auth':
      return { auth: { proof: item.proof } };
    case 'accept':
      return { accept: { proof: item.proof } };
  }
}

/** Checks and encodes one item; throws FlotillaError BAD_ARGUMENT if it is invalid. */
export function encodeEnvelope(item: WireItem): Uint8Array {
  checkOutgoing(item);
  return item.kind === 'raftPack' ? packEnvelope(item) : pb.Envelope.encode(toWire(item)).finish();
}

// Envelope field raft_pack = 8, length-delimited.
const RAFT_PACK_TAG = (8 << 3) | 2;

/** A pack's envelope, written in one buffer by raft-pack.ts, without protobufjs: the envelope's only field is its bytes. */
function packEnvelope(item: RaftPackItem): Uint8Array {
  const bodyBytes = packBytes(item.messages);
  const out = new Uint8Array(1 + varintBytes(bodyBytes) + bodyBytes);
  out[0] = RAFT_PACK_TAG;
  const at = writeVarint(out, 1, bodyBytes);
  const end = writePack(item.messages, out, at);
  if (end !== out.length) throw new Error(`raft pack: wrote ${end - at} bytes, sized ${bodyBytes}`);
  return out;
}

/** Packs encoded envelopes into one frame (the caller keeps it under the size limit). */
export function packFrame(envelopes: readonly Uint8Array[]): Uint8Array {
  const writer = protobuf.Writer.create().uint32(VERSION_TAG).uint32(PROTOCOL_VERSION);
  for (const envelope of envelopes) writer.uint32(ITEM_TAG).bytes(envelope);
  return writer.finish();
}

/** One frame holding `items`: for the handshake and for tests. */
export function encodeFrame(items: readonly WireItem[]): Uint8Array {
  return packFrame(items.map(encodeEnvelope));
}

// ---- decoding

function entryFromWire(e: flotilla.Entry.$Properties): Entry {
  return { index: e.index ?? 0, term: e.term ?? 0, type: (e.type ?? 0) as number, data: e.data ?? EMPTY };
}

function chunkFromWire(c: flotilla.SnapshotChunk.$Properties): SnapshotChunk {
  const meta = c.meta ?? bad('snapshot chunk without meta');
  const membership = meta.membership ?? bad('snapshot meta without membership');
  return {
    meta: {
      index: meta.index ?? 0,
      term: meta.term ?? 0,
      membership: { voters: [...(membership.voters ?? [])], learners: [...(membership.learners ?? [])] },
    },
    offset: c.offset ?? 0,
    total: c.total ?? 0,
    data: c.data ?? EMPTY,
  };
}

function messageFromWire(r: flotilla.RaftMessage.$Properties): Message {
  return {
    type: (r.type ?? 0) as number,
    from: r.from ?? '',
    to: r.to ?? '',
    term: r.term ?? 0,
    logTerm: r.logTerm ?? 0,
    index: r.index ?? 0,
    entries: (r.entries ?? []).map(entryFromWire),
    commit: r.commit ?? 0,
    reject: r.reject ?? false,
    rejectHint: r.rejectHint ?? 0,
    context: r.context ?? 0,
    force: r.force ?? false,
    snapshot: r.snapshot ? chunkFromWire(r.snapshot) : null,
  };
}

/** The coalesced heartbeat item of `h`, with its state hashes when it carries some. */
function heartbeatFromWire(kind: 'heartbeat' | 'heartbeatResp', h: flotilla.CoalescedHeartbeat.$Properties): WireItem {
  const item: CoalescedHeartbeatItem = { kind, from: h.from ?? '', to: h.to ?? '', beats: beatsFromWire(h) };
  const hashes = h.stateHashes ?? [];
  if (hashes.length > 0) {
    item.stateHashes = hashes.map((s) => ({ groupId: s.groupId ?? 0, index: s.index ?? 0, hash: Buffer.from(s.hash ?? EMPTY).toString('hex') }));
  }
  return item;
}

function beatsFromWire(h: flotilla.CoalescedHeartbeat.$Properties): GroupBeat[] {
  const ids = h.groupIds ?? [];
  const arrays = [h.terms ?? [], h.commits ?? [], h.rounds ?? [], h.fromSerials ?? [], h.toSerials ?? []] as const;
  if (arrays.some((a) => a.length !== ids.length)) {
    bad(`heartbeat arrays of lengths ${ids.length}/${arrays.map((a) => a.length).join('/')}`);
  }
  const [terms, commits, rounds, fromSerials, toSerials] = arrays;
  const beats = ids.map((groupId, i) => ({
    groupId,
    term: terms[i] ?? 0,
    commit: commits[i] ?? 0,
    round: rounds[i] ?? 0,
    fromSerial: fromSerials[i] ?? 0,
    toSerial: toSerials[i] ?? 0,
    quiesce: false,
  }));
  let previous = -1;
  for (const position of h.quiescing ?? []) {
    const beat = beats[position];
    if (beat === undefined || position <= previous) bad(`heartbeat quiescing position ${position} of ${beats.length} (out of range or out of order)`);
    beat.quiesce = true;
    previous = position;
  }
  return beats;
}

/** A ping's or pong's generation, when the sender presents one (a host that predates it does not). */
/** A response's machine code and details, checked: bounded, details JSON and only with a code. */
function withMachineFault(error: NonNullable<ClientResponseItem['error']>, code: string | null | undefined, details: string | null | undefined): NonNullable<ClientResponseItem['error']> {
  if (code == null || code === '') {
    if (details != null && details !== '') bad('machine details without a machine code');
    return error;
  }
  if (error.code !== 'COMMAND_FAILED') bad(`a machine code on a ${error.code} response`);
  if (utf8.encode(code).length > MAX_MACHINE_CODE_BYTES) bad(`a machine code of more than ${MAX_MACHINE_CODE_BYTES} bytes`);
  if (details == null || details === '') return { ...error, machineCode: code };
  if (utf8.encode(details).length > MAX_MACHINE_DETAILS_BYTES) bad(`machine details of more than ${MAX_MACHINE_DETAILS_BYTES} bytes`);
  try {
    JSON.parse(details);
  } catch {
    bad('machine details that are not JSON');
  }
  return { ...error, machineCode: code, machineDetails: details };
}

function withGeneration(item: HostPingItem, g: flotilla.DataGeneration.$Properties | null | undefined): HostPingItem {
  if (g == null) return item;
  return { ...item, generation: { incarnation: g.incarnation ?? '', process: g.process ?? 0, floor: g.floor ?? 0, current: g.current ?? 0 } };
}

/** A pong's verdict on the pinger's generation, when it answers a ping that carried one. */
function withVerdict(item: HostPingItem, v: flotilla.GenerationVerdict.$Properties | null | undefined): HostPingItem {
  if (v == null) return item;
  return { ...item, verdict: { stale: v.stale ?? false, recorded: v.recorded ?? 0, process: v.process ?? 0 } };
}

function fromWire(e: flotilla.Envelope.$Properties): WireItem {
  if (e.raft) return { kind: 'raft', groupId: e.raft.groupId ?? 0, message: messageFromWire(e.raft) };
  if (e.raftPack != null) return { kind: 'raftPack', messages: readPack(e.raftPack) };
  if (e.heartbeat) return heartbeatFromWire('heartbeat', e.heartbeat);
  if (e.heartbeatResp) return heartbeatFromWire('heartbeatResp', e.heartbeatResp);
  if (e.clientRequest) {
    const r = e.clientRequest;
    return {
      kind: 'clientRequest',
      requestId: r.requestId ?? 0,
      group: r.group ?? '',
      requestKind: lookup(REQUEST_KINDS_BACK, r.kind, 'request kind'),
      payload: r.payload ?? EMPTY,
      clientId: r.clientId ?? '',
      seq: r.seq ?? 0,
      consistency: lookup(CONSISTENCIES_BACK, r.consistency, 'consistency'),
      timeoutMs: r.timeoutMs ?? 0,
      ackedBelow: r.ackedBelow ?? 0,
    };
  }
  if (e.clientResponse) {
    const r = e.clientResponse;
    const failed = !(r.ok ?? false);
    if (failed === (r.errorCode === pb.ErrorCode.ERROR_CODE_NONE || r.errorCode == null)) {
      bad(`client response ok=${String(!failed)} with error code ${String(r.errorCode ?? 0)}`);
    }
    return {
      kind: 'clientResponse',
      requestId: r.requestId ?? 0,
      error: failed ? withMachineFault({ code: lookup(ERROR_CODES_BACK, r.errorCode, 'error code'), message: r.errorMessage ?? '' }, r.machineCode, r.machineDetails) : null,
      payload: r.payload ?? EMPTY,
      leaderHint: r.leaderHint ?? '',
      leaderTerm: r.leaderTerm ?? 0,
    };
  }
  if (e.ping) return withGeneration({ kind: 'ping', sentAt: e.ping.sentAt ?? 0, liveness: lookup(LIVENESSES_BACK, e.ping.liveness, 'liveness') }, e.ping.generation);
  if (e.pong) {
    const pong = withGeneration({ kind: 'pong', sentAt: e.pong.sentAt ?? 0, liveness: lookup(LIVENESSES_BACK, e.pong.liveness, 'liveness') }, e.pong.generation);
    return withVerdict(pong, e.pong.verdict);
  }
  if (e.hello) return { kind: 'hello', hostId: e.hello.hostId ?? '', incarnation: e.hello.incarnation ?? '', nonce: e.hello.nonce ?? EMPTY, features: e.hello.features ?? 0 };
  if (e.challenge) {
    const c = e.challenge;
    return { kind: 'challenge', hostId: c.hostId ?? '', incarnation: c.incarnation ?? '', nonce: c.nonce ?? EMPTY, features: c.features ?? 0 };
  }
  if (e.auth) return { kind: 'auth', proof: e.auth.proof ?? EMPTY };
  if (e.accept) return { kind: 'accept', proof: e.accept.proof ?? EMPTY };
  return bad('an envelope with no known item (a newer peer?)');
}

/**
 * Decodes and checks one frame. Throws FlotillaError TRANSPORT_PROTOCOL on anything that is not a
 * well-formed frame of PROTOCOL_VERSION whose every item satisfies validate.ts.
 * Decoded byte fields are views into `bytes` (no copy).
 */
export function decodeFrame(bytes: Uint8Array): WireItem[] {
  let frame: flotilla.Frame;
  try {
    frame = pb.Frame.decode(bytes);
  } catch (err) {
    return bad(`undecodable (${err instanceof Error ? err.message : String(err)})`);
  }
  const version = frame.version ?? 0;
  if (version !== PROTOCOL_VERSION) bad(`unsupported protocol version ${version} (this host speaks ${PROTOCOL_VERSION})`);
  const items = (frame.items ?? []).map(fromWire);
  for (const item of items) checkIncoming(item);
  return items;
}

const HANDSHAKE_KINDS = new Set<WireItem['kind']>(['hello', 'challenge', 'auth', 'accept']);

export function isHandshake(item: WireItem): item is Exclude<WireItem, Item> {
  return HANDSHAKE_KINDS.has(item.kind);
}
