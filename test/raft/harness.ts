// A small deterministic harness for the Raft core: N members, a message pool delivered (or dropped,
// duplicated, held back) by hand, partitions, and a driver loop that runs ready/persist/advance
// for every member, persisting into an in-memory record so a member can be restarted from exactly
// what it made durable.
//
// Nothing here reads a clock: time is `tick()`. Every member's randomness is a constant by default
// (member i of n draws i/n), so its election timeout is always the same number of ticks and tests
// can reason about who times out first.
//
// On every driver turn the harness also checks Raft's safety properties for the whole run:
// at most one leader per term, every member applies the same entry at an index, entries are
// applied in order with no gaps, leaders hold every entry committed in an earlier term, and what a
// member persisted is exactly the log it holds in memory.

import assert from 'node:assert/strict';

import { isFlotillaError, type ErrorCode } from '../../src/common/errors.js';
import {
  bootstrapState,
  DEFAULT_RAFT_CONFIG,
  emptyState,
  Raft,
  type RaftConfig,
  type RaftState,
  type Ready,
} from '../../src/raft/raft.js';
import type { Random } from '../../src/raft/random.js';
import {
  EntryType,
  MessageType,
  Role,
  type Entry,
  type HardState,
  type Membership,
  type Message,
  type NodeId,
  type ReadState,
  type Snapshot,
} from '../../src/raft/types.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

export type ConfigOverrides = Partial<Omit<RaftConfig, 'id' | 'random'>>;

/** What a member made durable: what it restarts from. */
export interface Stored {
  hardState: HardState;
  entries: Entry[];
  snapshot: Snapshot | null;
}

/** One command applied to a member's state machine. */
export interface Applied {
  index: number;
  term: number;
  text: string;
}

export interface ClusterOptions {
  /** Founding configuration (default: every id is a voter). */
  voters?: NodeId[];
  learners?: NodeId[];
  /** Config for every member (over DEFAULT_RAFT_CONFIG). */
  config?: ConfigOverrides;
  /** Per-member config on top of `config`. */
  configFor?: Record<NodeId, ConfigOverrides>;
  /** Per-member source of randomness (default: the constant i/n for the i-th of n members). */
  random?: (id: NodeId, position: number) => Random;
}

/** A member of the test cluster: its Raft core, its durable record and its state machine. */
export class Member {
  raft: Raft;
  readonly store: Stored;
  /** The state machine: every non-empty normal entry applied, in order. */
  sm: Applied[] = [];
  /** Index of the last entry applied (or restored from a snapshot). */
  appliedIndex: number;
  readStates: ReadState[] = [];

  constructor(
    readonly id: NodeId,
    readonly config: RaftConfig,
    state: RaftState,
  ) {
    this.store = {
      hardState: { ...state.hardState },
      entries: [...state.entries],
      snapshot: state.snapshot,
    };
    this.raft = new Raft(config, { ...state, entries: [...state.entries] });
    this.appliedIndex = state.applied;
  }

  /** The state a driver would load from storage after a crash. */
  loadState(): RaftState {
    const snapIndex = this.store.snapshot?.meta.index ?? 0;
    return {
      hardState: { ...this.store.hardState },
      snapshot: this.store.snapshot,
      entries: [...this.store.entries],
      applied: snapIndex,
    };
  }

  /** Every command in the state machine, as text. */
  get commands(): string[] {
    return this.sm.map((a) => a.text);
  }

  get role(): Role {
    return this.raft.currentRole;
  }

  get term(): number {
    return this.raft.currentTerm;
  }

  /** Terms of the log entries from `from` to the last index (undefined where compacted). */
  logTerms(from = 1): Array<number | undefined> {
    const out: Array<number | undefined> = [];
    for (let i = from; i <= this.raft.lastIndex; i++) out.push(this.raft.termAt(i));
    return out;
  }
}

/** A predicate on messages, for delivering, dropping or counting some of them. */
export type MessageFilter = (m: Message) => boolean;

/** Messages of one type (or any of several), optionally from and to given members. */
export function isMsg(type: MessageType | MessageType[], where: { from?: NodeId; to?: NodeId } = {}): MessageFilter {
  const types = Array.isArray(type) ? type : [type];
  return (m) =>
    types.includes(m.type) && (where.from === undefined || m.from === where.from) && (where.to === undefined || m.to === where.to);
}

/** Messages between two members (either direction), or from/to one member. */
export function between(a: NodeId, b?: NodeId): MessageFilter {
  return (m) => (b === undefined ? m.from === a || m.to === a : (m.from === a && m.to === b) || (m.from === b && m.to === a));
}

/** The messages a filter does not match. */
export function not(f: MessageFilter): MessageFilter {
  return (m) => !f(m);
}

/** An Append that carries the entry at `index`. */
export function carriesEntry(index: number): MessageFilter {
  return (m) => m.type === MessageType.Append && m.entries.some((e) => e.index === index);
}

export function encodeSm(sm: Applied[]): Uint8Array {
  return bytes(JSON.stringify(sm));
}

export function decodeSm(data: Uint8Array): Applied[] {
  return JSON.parse(text(data)) as Applied[];
}

/** Asserts that `fn` throws a FlotillaError with this code; returns it for further checks. */
export function expectError(code: ErrorCode, fn: () => unknown): { details: Record<string, unknown>; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(isFlotillaError(err, code), `expected ${code}, got ${String(err)}`);
    return { details: err.details, message: err.message };
  }
  assert.fail(`expected ${code}, nothing was thrown`);
}

export class Cluster {
  readonly members = new Map<NodeId, Member>();
  /** Messages sent and not yet delivered or dropped, oldest first. */
  pool: Message[] = [];
  /** Every message any member ever sent, in order (for counting). */
  readonly sent: Message[] = [];
  private readonly isolated = new Set<NodeId>();
  private readonly cuts = new Set<string>();
  private readonly options: ClusterOptions;
  private position = 0;
  private readonly memberCount: number;

  // Safety checks over the whole run.
  private readonly leadersByTerm = new Map<number, NodeId>();
  private readonly appliedAt = new Map<number, { term: number; type: EntryType; data: string; lowestTerm: number }>();

  constructor(ids: NodeId[], options: ClusterOptions = {}) {
    this.options = options;
    this.memberCount = ids.length;
    const membership: Membership = { voters: options.voters ?? ids, learners: options.learners ?? [] };
    for (const id of ids) this.addMember(id, bootstrapState(membership));
  }

  // -------------------------------------------------------------------------------------------
  // Members

  /** Starts a member from `state` (default: empty, waiting to be given the log by a leader). */
  addMember(id: NodeId, state: RaftState = emptyState()): Member {
    assert.ok(!this.members.has(id), `${id} already exists`);
    const position = this.position++;
    const random = this.options.random?.(id, position) ?? constantRandom(position / Math.max(this.memberCount, position + 1));
    const config: RaftConfig = {
      ...DEFAULT_RAFT_CONFIG,
      ...this.options.config,
      ...this.options.configFor?.[id],
      id,
      random,
    };
    const member = new Member(id, config, state);
    this.members.set(id, member);
    this.flush();
    return member;
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    assert.ok(m !== undefined, `no member ${id}`);
    return m;
  }

  raft(id: NodeId): Raft {
    return this.member(id).raft;
  }

  /** Crash and restart: a new core built from what the member persisted; in-memory state is lost. */
  restart(id: NodeId): Member {
    const m = this.member(id);
    const state = m.loadState();
    m.raft = new Raft(m.config, { ...state, entries: [...state.entries] });
    m.sm = m.store.snapshot === null ? [] : decodeSm(m.store.snapshot.data);
    m.appliedIndex = state.applied;
    m.readStates = [];
    this.flush();
    return m;
  }

  /** The leader of the highest term, if any member thinks it leads. */
  leaderId(): NodeId | undefined {
    let best: Member | undefined;
    for (const m of this.members.values()) {
      if (m.role === Role.Leader && (best === undefined || m.term > best.term)) best = m;
    }
    return best?.id;
  }

  // -------------------------------------------------------------------------------------------
  // Network

  /** Drops every message to or from `id` at delivery time until healed. */
  isolate(id: NodeId): void {
    this.isolated.add(id);
  }

  /** Drops messages between a and b (both directions) until healed. */
  cut(a: NodeId, b: NodeId): void {
    this.cuts.add(pairKey(a, b));
  }

  /** Removes every partition (or just the isolation of `id`). */
  heal(id?: NodeId): void {
    if (id !== undefined) {
      this.isolated.delete(id);
      for (const key of [...this.cuts]) if (key.split('|').includes(id)) this.cuts.delete(key);
      return;
    }
    this.isolated.clear();
    this.cuts.clear();
  }

  private reachable(from: NodeId, to: NodeId): boolean {
    return !this.isolated.has(from) && !this.isolated.has(to) && !this.cuts.has(pairKey(from, to)) && this.members.has(to);
  }

  /** A position in the record of sent messages, for sentSince(). */
  mark(): number {
    return this.sent.length;
  }

  /** Messages sent since `mark` that match (delivered, dropped or still in flight). */
  sentSince(mark: number, filter: MessageFilter = () => true): Message[] {
    return this.sent.slice(mark).filter(filter);
  }

  /** Messages in flight that match. */
  pending(filter: MessageFilter = () => true): Message[] {
    return this.pool.filter(filter);
  }

  /** Removes matching messages from the pool; returns how many. */
  drop(filter: MessageFilter = () => true): number {
    const before = this.pool.length;
    this.pool = this.pool.filter(not(filter));
    return before - this.pool.length;
  }

  /** Adds a copy of every matching message to the end of the pool; returns how many. */
  duplicate(filter: MessageFilter): number {
    const copies = this.pool.filter(filter).map((m) => ({ ...m, entries: [...m.entries] }));
    this.pool.push(...copies);
    return copies.length;
  }

  /**
   * Delivers, oldest first, the matching messages in the pool right now (what they cause stays in
   * the pool). A message across a partition is dropped. Returns how many were delivered.
   */
  deliver(filter: MessageFilter = () => true): number {
    const batch = this.pool.filter(filter);
    this.pool = this.pool.filter(not(filter));
    let delivered = 0;
    for (const m of batch) if (this.stepInto(m)) delivered++;
    return delivered;
  }

  /**
   * Delivers matching messages one at a time, oldest first, including those they cause, until none
   * is left or `until` holds. Returns how many were delivered.
   */
  deliverAll(options: { filter?: MessageFilter; until?: () => boolean; limit?: number } = {}): number {
    const filter = options.filter ?? (() => true);
    const limit = options.limit ?? 100_000;
    let delivered = 0;
    for (let steps = 0; ; steps++) {
      assert.ok(steps < limit, 'deliverAll: the messages never quiesce');
      if (options.until?.() === true) break;
      const i = this.pool.findIndex(filter);
      if (i < 0) break;
      const [m] = this.pool.splice(i, 1);
      if (this.stepInto(m!)) delivered++;
    }
    this.checkLogMatching();
    return delivered;
  }

  /** Steps one message into its recipient (unless partitioned away) and runs the driver. */
  private stepInto(m: Message): boolean {
    if (!this.reachable(m.from, m.to)) return false;
    this.member(m.to).raft.step(m);
    this.flush();
    return true;
  }

  /** Injects a hand-made message straight into its recipient. */
  inject(m: Message): void {
    this.member(m.to).raft.step(m);
    this.flush();
  }

  // -------------------------------------------------------------------------------------------
  // Time

  /** Ticks one member n times (its messages go to the pool). */
  tick(id: NodeId, n = 1): void {
    const m = this.member(id);
    for (let i = 0; i < n; i++) {
      m.raft.tick();
      this.flush();
    }
  }

  /** Ticks every member n times without delivering anything. */
  tickAll(n = 1, ids: NodeId[] = [...this.members.keys()]): void {
    for (let i = 0; i < n; i++) for (const id of ids) this.tick(id);
  }

  /**
   * Virtual time with a working network: each round ticks every member (or `ids`) once, then
   * delivers everything. Stops early when `until` holds; returns the rounds run.
   */
  run(rounds: number, options: { until?: () => boolean; ids?: NodeId[] } = {}): number {
    for (let r = 0; r < rounds; r++) {
      if (options.until?.() === true) return r;
      this.tickAll(1, options.ids);
      this.deliverAll();
    }
    return rounds;
  }

  /**
   * Makes `id` the leader the way a real group would: every other member's timer runs down first
   * (their leases and vote guards lapse, a leader that hears from nobody steps down; whatever they
   * send meanwhile, and anything they had in flight, is lost), then `id` times out and campaigns
   * while the network delivers. With settle (default), the new leader's first entry is replicated
   * and committed before returning; without, everything after the winning vote stays in the pool.
   */
  electLeader(id: NodeId, options: { settle?: boolean } = {}): void {
    const target = this.member(id);
    const leads = (): boolean => target.role === Role.Leader;
    if (!leads()) {
      const e = target.config.electionTick;
      for (const other of this.members.values()) {
        if (other.id === id) continue;
        for (let i = 0; i < 2 * e; i++) other.raft.tick();
        this.flush();
        this.drop((m) => m.from === other.id);
      }
      for (let i = 0; i < 40 * e && !leads(); i++) {
        this.tick(id);
        if (target.role !== Role.Follower) this.deliverAll({ until: leads });
      }
      assert.ok(leads(), `${id} could not be elected`);
    }
    if (options.settle !== false) this.deliverAll();
  }

  // -------------------------------------------------------------------------------------------
  // Client operations

  /** Proposes a command on `id` (which must lead); returns its index. */
  propose(id: NodeId, command: string): number {
    const index = this.raft(id).propose(bytes(command));
    this.flush();
    return index;
  }

  /** Asks `id` for a read; the ReadState shows up in member(id).readStates. */
  read(id: NodeId, requestId: number, options: { lease?: boolean } = {}): void {
    this.raft(id).readIndex(requestId, options);
    this.flush();
  }

  /**
   * Takes a snapshot of `id`'s state machine at `index` (≤ applied) and compacts its log the way a
   * driver would: the core drops entries from memory, the driver from storage.
   */
  compact(id: NodeId, index: number, keepEntries = 0): number {
    const m = this.member(id);
    const data = encodeSm(m.sm.filter((a) => a.index <= index));
    const compactedTo = m.raft.compact(index, data, keepEntries);
    const snapshot = m.raft.latestSnapshot;
    assert.ok(snapshot !== null && snapshot.meta.index === index, `${id} holds the snapshot at ${index}`);
    m.store.snapshot = snapshot;
    m.store.entries = m.store.entries.filter((e) => e.index > compactedTo);
    this.flush();
    return compactedTo;
  }

  // -------------------------------------------------------------------------------------------
  // The driver

  /** Runs ready → persist → send → apply → advance on every member until none has work. */
  flush(): void {
    for (let again = true; again; ) {
      again = false;
      for (const m of this.members.values()) {
        for (let turns = 0; m.raft.hasReady(); turns++) {
          assert.ok(turns < 1000, `${m.id}: hasReady() stays true after ready()/advance()`);
          this.handleReady(m, m.raft.ready());
          again = true;
        }
      }
    }
    this.checkSafety();
  }

  private handleReady(m: Member, rd: Ready): void {
    const store = m.store;
    if (rd.hardState !== null) store.hardState = { ...rd.hardState };
    if (rd.snapshot !== null) {
      store.snapshot = rd.snapshot;
      store.entries = [];
      m.sm = decodeSm(rd.snapshot.data);
      m.appliedIndex = rd.snapshot.meta.index;
    }
    if (rd.entries.length > 0) {
      const first = rd.entries[0]!.index;
      const storedLast = store.entries.at(-1)?.index ?? store.snapshot?.meta.index ?? 0;
      assert.ok(first <= storedLast + 1, `${m.id}: ready entries start at ${first}, after stored ${storedLast}: a gap`);
      store.entries = store.entries.filter((e) => e.index < first).concat(rd.entries);
    }
    for (const msg of rd.messages) {
      this.pool.push(msg);
      this.sent.push(msg);
    }
    for (const e of rd.committed) this.apply(m, e);
    m.readStates.push(...rd.readStates);
    m.raft.advance(rd);
  }

  private apply(m: Member, e: Entry): void {
    assert.equal(e.index, m.appliedIndex + 1, `${m.id} applies ${e.index} after ${m.appliedIndex}`);
    m.appliedIndex = e.index;
    const data = text(e.data);
    const seen = this.appliedAt.get(e.index);
    if (seen === undefined) {
      this.appliedAt.set(e.index, { term: e.term, type: e.type, data, lowestTerm: m.term });
    } else {
      assert.deepEqual(
        { term: e.term, type: e.type, data },
        { term: seen.term, type: seen.type, data: seen.data },
        `State Machine Safety: ${m.id} applies a different entry at ${e.index}`,
      );
      seen.lowestTerm = Math.min(seen.lowestTerm, m.term);
    }
    if (e.type === EntryType.Normal && e.data.length > 0) m.sm.push({ index: e.index, term: e.term, text: data });
  }

  private checkSafety(): void {
    for (const m of this.members.values()) {
      // Election Safety: at most one leader per term.
      if (m.role === Role.Leader) {
        const other = this.leadersByTerm.get(m.term);
        assert.ok(other === undefined || other === m.id, `Election Safety: ${other} and ${m.id} both lead term ${m.term}`);
        this.leadersByTerm.set(m.term, m.id);
        // Leader Completeness: an entry committed in an earlier term is in this leader's log.
        for (const [index, seen] of this.appliedAt) {
          if (seen.lowestTerm < m.term && index > m.raft.compactedTo) {
            assert.equal(m.raft.termAt(index), seen.term, `Leader Completeness: leader ${m.id} (term ${m.term}) lacks committed entry ${index}`);
          }
        }
      }
      // What is durable is exactly what the core holds.
      const store = m.store;
      const storedLast = store.entries.at(-1)?.index ?? store.snapshot?.meta.index ?? 0;
      assert.equal(storedLast, m.raft.lastIndex, `${m.id}: stored log ends at ${storedLast}, core at ${m.raft.lastIndex}`);
      for (const e of store.entries) {
        if (e.index > m.raft.compactedTo) assert.equal(m.raft.termAt(e.index), e.term, `${m.id}: stored entry ${e.index} differs`);
      }
      assert.equal(store.hardState.term, m.raft.currentTerm, `${m.id}: stored term`);
      assert.equal(store.hardState.vote, m.raft.status().vote, `${m.id}: stored vote`);
    }
  }

  /** Log Matching: two logs with the same term at an index are identical up to it. */
  checkLogMatching(): void {
    const all = [...this.members.values()];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!.raft;
        const b = all[j]!.raft;
        const from = Math.max(a.compactedTo, b.compactedTo) + 1;
        let matchedAt = 0;
        for (let k = Math.min(a.lastIndex, b.lastIndex); k >= from; k--) {
          if (a.termAt(k) === b.termAt(k)) {
            matchedAt = k;
            break;
          }
        }
        for (let k = from; k <= matchedAt; k++) {
          assert.equal(a.termAt(k), b.termAt(k), `Log Matching: ${all[i]!.id} and ${all[j]!.id} differ at ${k} below ${matchedAt}`);
          assert.deepEqual(a.entryAt(k)?.data, b.entryAt(k)?.data, `Log Matching: ${all[i]!.id} and ${all[j]!.id} differ at ${k}`);
        }
      }
    }
  }
}

function pairKey(a: NodeId, b: NodeId): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

/** A Random that always draws `value`: the member's election timeout is then always the same. */
export function constantRandom(value: number): Random {
  return () => value;
}

export { MessageType, Role };
