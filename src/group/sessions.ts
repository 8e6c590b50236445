// Client sessions (Raft thesis 6.3): a command sent with (clientId, seq) runs at most once, however
// often it is retried. Every replica keeps the same table, because it changes only as log entries
// apply, in log order, and every bound on it is decided by the log alone. The table is part of the
// group's snapshot, so a restart or a follower given a snapshot still recognises retries.

import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import { ByteReader, ByteWriter, utf8Length } from './binary.js';
import type { Failure } from './machine-error.js';

export interface Session {
  clientId: string;
  seq: number;
  /** Lowest seq this client has not yet got a reply for (Raft thesis 6.3): replies below it may be discarded. */
  ackedBelow: number;
}

/** A command's outcome as a session remembers it: the reply codec's bytes, or the error (with the machine's code and details, if any). */
export type SavedOutcome = { ok: true; reply: Uint8Array } | ({ ok: false } & Failure);

/** What a session command does at apply. */
export type SessionVerdict =
  | { kind: 'run' }
  /** Already applied: answer with the remembered outcome, do not run the machine again. */
  | { kind: 'cached'; outcome: SavedOutcome }
  /** Its reply was already discarded (acknowledged or evicted): it cannot be answered. */
  | { kind: 'stale' };

/** Longest client id in UTF-8 bytes. */
export const MAX_CLIENT_ID_BYTES = 1024;

/** Throws BAD_ARGUMENT unless the session can be written to the log and makes sense. */
export function checkSession(s: Session): void {
  if (typeof s.clientId !== 'string' || s.clientId.length === 0 || utf8Length(s.clientId) > MAX_CLIENT_ID_BYTES) {
    throw new FlotillaError('BAD_ARGUMENT', `session clientId must be a non-empty string of at most ${MAX_CLIENT_ID_BYTES} UTF-8 bytes`);
  }
  if (!Number.isSafeInteger(s.seq) || s.seq < 0) {
    throw new FlotillaError('BAD_ARGUMENT', `session seq must be a non-negative safe integer, got ${s.seq}`);
  }
  if (!Number.isSafeInteger(s.ackedBelow) || s.ackedBelow < 0 || s.ackedBelow > s.seq) {
    // The command being sent has no reply yet, so the client cannot have acknowledged it.
    throw new FlotillaError('BAD_ARGUMENT', `session ackedBelow must be an integer in [0, seq], got ${s.ackedBelow} for seq ${s.seq}`);
  }
}

interface ClientSession {
  /** A seq below this that has no remembered outcome was discarded: it is stale. */
  floor: number;
  /** The seqs of `replies`, ascending: discarding follows seq order, never apply order. */
  seqs: number[];
  /** Outcomes by seq. */
  replies: Map<number, SavedOutcome>;
}

export class SessionTable {
  /** Least recently used first (by log index): a session moves to the end whenever one of its commands applies. */
  private clients = new Map<string, ClientSession>();

  constructor(
    private readonly maxSessions: number,
    private readonly maxRepliesPerSession: number,
  ) {}

  get size(): number {
    return this.clients.size;
  }

  /** Decides what a session command does as it applies; opens or refreshes its client's session. */
  check(s: Session): SessionVerdict {
    let client = this.clients.get(s.clientId);
    if (client === undefined) {
      client = { floor: 0, seqs: [], replies: new Map() };
      this.evictSessions(this.maxSessions - 1);
    } else {
      this.clients.delete(s.clientId);
    }
    this.clients.set(s.clientId, client);
    if (s.ackedBelow > client.floor) {
      client.floor = s.ackedBelow;
      dropBelow(client, s.ackedBelow);
    }
    const outcome = client.replies.get(s.seq);
    if (outcome !== undefined) return { kind: 'cached', outcome };
    if (s.seq < client.floor) return { kind: 'stale' };
    return { kind: 'run' };
  }

  /** Remembers the outcome of a command that `check` (just before, same entry) said to run. */
  record(s: Session, outcome: SavedOutcome): void {
    const client = this.clients.get(s.clientId);
    if (client === undefined) throw new Error(`no session for client ${s.clientId}: record() without check()`);
    assert(s.seq >= client.floor && !client.replies.has(s.seq), () => `record() of seq ${s.seq} that check() did not say to run (floor ${client.floor})`);
    insertSorted(client.seqs, s.seq);
    client.replies.set(s.seq, outcome);
    trimReplies(client, this.maxRepliesPerSession);
  }

  /**
   * The table in a deterministic byte form, for the group snapshot, clients in LRU order:
   * [u32 clients] then per client [u16 n][clientId][u64 floor][u32 replies] and per reply, lowest
   * seq first, [u64 seq][u8 ok][u32 n][reply bytes, or the error message in UTF-8]. An error with a
   * machine code has ok = 2 and after its message [u16 n][code][u32 n][details JSON, or nothing]
   * (a table without one is byte for byte what versions before machine codes wrote).
   */
  encode(): Uint8Array {
    const w = new ByteWriter();
    w.u32(this.clients.size);
    for (const [clientId, client] of this.clients) {
      w.text(clientId);
      w.u64(client.floor);
      w.u32(client.seqs.length);
      for (const seq of client.seqs) {
        const outcome = client.replies.get(seq)!;
        w.u64(seq);
        if (outcome.ok) {
          w.u8(1);
          w.bytes(outcome.reply);
        } else if (outcome.machineCode === undefined) {
          w.u8(0);
          w.bytes(utf8.encode(outcome.error));
        } else {
          w.u8(2);
          w.bytes(utf8.encode(outcome.error));
          w.text(outcome.machineCode);
          w.bytes(utf8.encode(outcome.machineDetails ?? ''));
        }
      }
    }
    return w.finish();
  }

  /** Replaces the table by one read from `encode`'s bytes (throws if they do not decode). */
  restore(bytes: Uint8Array): void {
    const r = new ByteReader(bytes);
    const clients = new Map<string, ClientSession>();
    for (let n = r.u32(); n > 0; n--) {
      const clientId = r.text();
      const client: ClientSession = { floor: r.u64(), seqs: [], replies: new Map() };
      for (let m = r.u32(); m > 0; m--) {
        const seq = r.u64();
        // Tables written before replies were kept in seq order listed them in apply order.
        if (client.replies.has(seq)) throw new Error(`a session table with seq ${seq} twice for one client`);
        insertSorted(client.seqs, seq);
        client.replies.set(seq, readOutcome(r));
      }
      clients.set(clientId, client);
    }
    r.end();
    this.clients = clients;
  }

  /** Drops least recently used sessions until at most `keep` remain. */
  private evictSessions(keep: number): void {
    for (const clientId of this.clients.keys()) {
      if (this.clients.size <= keep) return;
      this.clients.delete(clientId);
    }
  }
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

function readOutcome(r: ByteReader): SavedOutcome {
  const kind = r.u8();
  if (kind === 1) return { ok: true, reply: r.bytes().slice() };
  const error = utf8Decoder.decode(r.bytes());
  if (kind === 0) return { ok: false, error };
  if (kind !== 2) throw new Error(`a session reply of unknown kind ${kind}`);
  const machineCode = r.text();
  const details = utf8Decoder.decode(r.bytes());
  return details === '' ? { ok: false, error, machineCode } : { ok: false, error, machineCode, machineDetails: details };
}

/**
 * Drops the replies of the lowest seqs beyond `max`; every seq up to the last dropped becomes
 * stale. Lowest seq, not applied longest ago: a client that keeps its seqs within `max` of its
 * ackedBelow (fleet/client-sessions.ts) then never loses the reply of a command it still awaits,
 * nor sees one that has not applied yet (it overtook nothing it waits for) refused as stale.
 */
function trimReplies(client: ClientSession, max: number): void {
  const excess = client.seqs.length - max;
  if (excess <= 0) return;
  const dropped = client.seqs.splice(0, excess);
  for (const seq of dropped) client.replies.delete(seq);
  client.floor = Math.max(client.floor, dropped[dropped.length - 1]! + 1);
}

/** Forgets the replies of seqs below `ackedBelow` (the client has them). */
function dropBelow(client: ClientSession, ackedBelow: number): void {
  let count = 0;
  while (count < client.seqs.length && client.seqs[count]! < ackedBelow) client.replies.delete(client.seqs[count++]!);
  if (count > 0) client.seqs.splice(0, count);
}

/** Inserts `seq` into the ascending `seqs`, searching from the end: a new seq is nearly always the highest. */
function insertSorted(seqs: number[], seq: number): void {
  let at = seqs.length;
  while (at > 0 && seqs[at - 1]! > seq) at--;
  if (at === seqs.length) seqs.push(seq);
  else seqs.splice(at, 0, seq);
}
