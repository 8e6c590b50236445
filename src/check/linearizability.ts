// A linearizability checker for client histories (see history.ts), in the Wing & Gong style with
// the improvements of Lowe and Porcupine.
//
// - Keys are independent objects and linearizability is compositional, so the history of every
//   key is checked on its own (P-compositionality): many small searches instead of one huge one.
// - Just-in-time linearization (Lowe): a key's call and return events sit in one list in time
//   order. Walking from the front, any op whose call is reached may take effect next, since it is
//   concurrent with or later than everything already linearized. Reaching the return of an op not
//   yet linearized is a dead end, since it had to take effect before returning: backtrack.
//   Linearizing an op unlinks its events (dancing links: backtracking relinks them in O(1)).
// - The cache (Lowe, Porcupine): what the search can still do depends only on which ops are
//   linearized and on the current value, so every (set of ops, value) pair is explored once.
//   This is what keeps histories of thousands of ops a key fast.
// - Reads are free: a successful get (or failed cas) that fits the current value is linearized at
//   once, with no alternative tried (see Slot.readOnly for why that loses nothing).
//
// Ops with ok:false are dropped. An op with ok:'unknown' may take effect at any time after its
// call, or never: it has no return event (its return is +infinity) and the search succeeds once
// every successful op is linearized, with or without it. A get that timed out changes nothing and
// is dropped. Timed-out ops can make the search space explode (each may be slipped in almost
// anywhere), so three things tame them: they are tried only after the successful ops at each step,
// interchangeable ones (same request) are used in call order only, and the cache also prunes a
// state when one with fewer timed-out ops linearized was explored (see VisitedCache).

import { FlotillaError } from '../common/errors.js';
import { describeOp, parseOp, type HistoryOp, type Output } from './history.js';
import { INITIAL_VALUE, showValue, stepKv, type KvValue } from './kv-model.js';

export interface CheckOptions {
  /** Search steps allowed for each key before giving up with ok: 'unknown'. */
  maxSteps?: number;
  /** Wall-clock limit for the whole check, in milliseconds (default: none). */
  timeoutMs?: number;
}

export const DEFAULT_MAX_STEPS = 10_000_000;

export type CheckResult =
  | { ok: true }
  | {
      ok: false;
      key: string;
      /** Human-readable: the longest linearizable prefix found and the ops that could not follow. */
      explanation: string;
      /** History indices of that prefix, in linearization order. */
      linearized: number[];
      /** History indices of the ops that could not take effect after it. */
      blocked: number[];
    }
  | { ok: 'unknown'; key: string; reason: string };

/** Throws a BAD_ARGUMENT FlotillaError, naming the index, if an op is malformed. */
export function checkLinearizability(history: readonly HistoryOp[], options: CheckOptions = {}): CheckResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const deadline = options.timeoutMs === undefined ? Infinity : performance.now() + options.timeoutMs;

  const byKey = new Map<string, IndexedOp[]>();
  history.forEach((raw, index) => {
    let op: HistoryOp;
    try {
      op = parseOp(raw);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new FlotillaError('BAD_ARGUMENT', `history[${index}]: ${reason}`, { index });
    }
    if (op.ok === false || (op.ok === 'unknown' && op.op === 'get')) return;
    const ops = byKey.get(op.key) ?? [];
    ops.push({ index, op });
    byKey.set(op.key, ops);
  });

  let gaveUp: CheckResult | undefined;
  for (const [key, ops] of byKey) {
    const outcome = new KeySearch(ops).run(maxSteps, deadline);
    if (outcome.ok === false) {
      const deadEnd = outcome.deadEnd;
      return {
        ok: false,
        key,
        explanation: explain(key, ops.length, deadEnd),
        linearized: deadEnd.linearized.map((step) => step.slot.index),
        blocked: deadEnd.blocked.map((b) => b.slot.index),
      };
    }
    if (outcome.ok === 'unknown') {
      // Keep checking the other keys (one may fail for certain) unless time has run out.
      gaveUp ??= { ok: 'unknown', key, reason: outcome.reason };
      if (performance.now() > deadline) return gaveUp;
    }
  }
  return gaveUp ?? { ok: true };
}

interface IndexedOp {
  index: number;
  op: HistoryOp;
}

/** One op of the key being searched. */
class Slot {
  readonly required: boolean;
  /**
   * A successful op that never changes the value (a get, a cas that failed). When one fits the
   * current value it is linearized at once and nothing else is tried from that state: any
   * linearization placing it later stays valid with it moved here, since the ops that had to
   * precede it are already linearized (its call comes before every pending return) and it changes
   * nothing for the ops in between.
   */
  readonly readOnly: boolean;
  /** The reply to check: none for an op whose outcome is unknown. */
  readonly output: Output | undefined;
  readonly callEvent: EventNode;
  readonly returnEvent: EventNode | null;
  linearized = false;
  /**
   * The timed-out op with the same request called last before this one, if any. Such twins are
   * interchangeable (no return, no reply to check), so only the earliest not yet linearized is
   * tried: trying every subset of them would multiply the search for nothing.
   */
  twin: Slot | null = null;

  constructor(
    /** Position in the history given to the checker. */
    readonly index: number,
    readonly op: HistoryOp,
    /** Position in OpSet's bit set for required (or for unknown) ops. */
    readonly bit: number,
    /** Zobrist hash contributions (random), XORed into the hash of the linearized set. */
    readonly z1: number,
    readonly z2: number,
  ) {
    this.required = op.ok === true;
    this.readOnly = this.required && (op.op === 'get' || (op.op === 'cas' && op.output === false));
    this.output = this.required ? op.output : undefined;
    this.callEvent = new EventNode(this, true, op.call);
    this.returnEvent = this.required ? new EventNode(this, false, op.return ?? op.call) : null;
  }
}

class EventNode {
  prev: EventNode | null = null;
  next: EventNode | null = null;

  constructor(
    readonly slot: Slot,
    readonly isCall: boolean,
    readonly time: number,
  ) {}
}

/** A doubly linked list of events from which removed events are relinked in reverse order. */
class EventList {
  first: EventNode | null = null;

  constructor(events: EventNode[]) {
    let last: EventNode | null = null;
    for (const e of events) {
      e.prev = last;
      if (last === null) this.first = e;
      else last.next = e;
      last = e;
    }
  }

  remove(e: EventNode): void {
    if (e.prev === null) this.first = e.next;
    else e.prev.next = e.next;
    if (e.next !== null) e.next.prev = e.prev;
  }

  /** Undoes remove(e): valid while the events removed after e have been restored first. */
  restore(e: EventNode): void {
    if (e.prev === null) this.first = e;
    else e.prev.next = e;
    if (e.next !== null) e.next.prev = e;
  }
}

const FULL_WORD = 0xffffffff;

/**
 * The set of linearized ops. The successful ones have a 64-bit hash maintained incrementally
 * (Zobrist), so a cache lookup costs O(1); they are linearized roughly in call order, so their
 * bits are snapshotted compactly: the words below `full` are all ones, those from `used` on zeros.
 */
class OpSet {
  private readonly required: Uint32Array;
  private readonly unknown: Uint32Array;
  private full = 0;
  private used = 0;
  private hash1 = 0;
  private hash2 = 0;

  constructor(requiredCount: number, unknownCount: number) {
    this.required = new Uint32Array(Math.ceil(requiredCount / 32));
    this.unknown = new Uint32Array(Math.ceil(unknownCount / 32));
  }

  add(slot: Slot): void {
    const w = slot.bit >>> 5;
    const mask = 1 << (slot.bit & 31);
    if (!slot.required) {
      this.unknown[w] = (this.unknown[w] ?? 0) | mask;
      return;
    }
    this.hash1 ^= slot.z1;
    this.hash2 ^= slot.z2;
    this.required[w] = (this.required[w] ?? 0) | mask;
    this.used = Math.max(this.used, w + 1);
    while (this.full < this.used && this.required[this.full] === FULL_WORD) this.full++;
  }

  remove(slot: Slot): void {
    const w = slot.bit >>> 5;
    const mask = ~(1 << (slot.bit & 31));
    if (!slot.required) {
      this.unknown[w] = (this.unknown[w] ?? 0) & mask;
      return;
    }
    this.hash1 ^= slot.z1;
    this.hash2 ^= slot.z2;
    this.required[w] = (this.required[w] ?? 0) & mask;
    this.full = Math.min(this.full, w);
    while (this.used > 0 && this.required[this.used - 1] === 0) this.used--;
  }

  /** 53 bits of the 64-bit hash of the successful ops, usable as a Map key. */
  requiredHash(): number {
    return (this.hash1 >>> 0) * 2 ** 21 + (this.hash2 >>> 11);
  }

  // Snapshots pack 16 bits a character: strings are far smaller than typed arrays.

  requiredSnapshot(): string {
    const halves = [this.full & 0xffff, this.full >>> 16];
    for (let i = this.full; i < this.used; i++) {
      const word = this.required[i] ?? 0;
      halves.push(word & 0xffff, word >>> 16);
    }
    return String.fromCharCode(...halves);
  }

  unknownSnapshot(): string {
    const halves: number[] = [];
    for (const word of this.unknown) halves.push(word & 0xffff, word >>> 16);
    return String.fromCharCode(...halves);
  }
}

/** Whether the set of timed-out ops `a` is a subset of `b` (both from OpSet.unknownSnapshot). */
function isSubset(a: string, b: string): boolean {
  for (let i = 0; i < a.length; i++) {
    if ((a.charCodeAt(i) & ~b.charCodeAt(i)) !== 0) return false;
  }
  return true;
}

interface CacheEntry {
  required: string;
  value: KvValue;
  /** The sets of timed-out ops explored with these successful ops and this value. */
  unknown: string[];
  /** The next entry with the same hash. */
  next: CacheEntry | null;
}

/**
 * The states already explored. A state is subsumed by an explored one with the same successful ops
 * linearized, the same value and a subset of its timed-out ops linearized: timed-out ops are
 * optional and constrain nothing once called, so the one with fewer used has every completion the
 * other has. Without timed-out ops this is exactly the (set, value) cache.
 */
class VisitedCache {
  private readonly byHash = new Map<number, CacheEntry>();

  /** Adds the state; false if an explored state subsumes it. */
  add(set: OpSet, value: KvValue): boolean {
    const hash = set.requiredHash();
    const first = this.byHash.get(hash) ?? null;
    const required = set.requiredSnapshot();
    const unknown = set.unknownSnapshot();
    for (let e = first; e !== null; e = e.next) {
      if (e.value !== value || e.required !== required) continue;
      if (e.unknown.some((explored) => isSubset(explored, unknown))) return false;
      e.unknown.push(unknown);
      return true;
    }
    this.byHash.set(hash, { required, value, unknown: [unknown], next: first });
    return true;
  }
}

/** Where the search got furthest before failing: the material of the explanation. */
interface DeadEnd {
  /** The ops linearized, in order, each with the value after it. */
  linearized: { slot: Slot; value: KvValue }[];
  value: KvValue;
  /** The ops that could have come next, and why none could. */
  blocked: { slot: Slot; reason: string }[];
  /** The op whose return ended the walk: it had to take effect by then. */
  due: Slot;
}

interface Frame {
  slot: Slot;
  /** The value before the op took effect. */
  before: KvValue;
}

/** A dead end as recorded during the search; turned into a DeadEnd only if the search fails. */
interface Furthest {
  stack: Frame[];
  value: KvValue;
  candidates: Slot[];
  due: Slot;
  required: number;
  unknown: number;
}

type KeyOutcome = { ok: true } | { ok: false; deadEnd: DeadEnd } | { ok: 'unknown'; reason: string };

/** How often (in steps) the wall clock is read. */
const CLOCK_EVERY = 4096;

class KeySearch {
  private readonly slots: Slot[];
  /** Calls and returns of the successful ops not linearized yet, in time order. */
  private readonly events: EventList;
  /** Calls of the timed-out ops not linearized yet, in time order (they have no return). */
  private readonly unknownCalls: EventList;
  private readonly set: OpSet;
  private readonly cache = new VisitedCache();
  private readonly requiredCount: number;

  // The state of the search: the ops linearized, in order, and the value they leave.
  private readonly stack: Frame[] = [];
  private value = INITIAL_VALUE;
  private remaining: number;
  private furthest: Furthest | undefined;

  constructor(private readonly ops: IndexedOp[]) {
    const random = zobristRandom();
    let required = 0;
    let unknown = 0;
    this.slots = ops.map(
      ({ index, op }) => new Slot(index, op, op.ok === true ? required++ : unknown++, random(), random()),
    );
    this.requiredCount = required;
    this.remaining = required;
    this.set = new OpSet(required, unknown);

    const events: EventNode[] = [];
    const unknownCalls: EventNode[] = [];
    for (const slot of this.slots) {
      if (slot.returnEvent === null) {
        unknownCalls.push(slot.callEvent);
      } else {
        events.push(slot.callEvent, slot.returnEvent);
      }
    }
    // At equal times calls go first: the ops are then concurrent, the lenient reading of a tie.
    const byTime = (a: EventNode, b: EventNode): number =>
      a.time - b.time || Number(b.isCall) - Number(a.isCall) || a.slot.index - b.slot.index;
    this.events = new EventList(events.sort(byTime));
    this.unknownCalls = new EventList(unknownCalls.sort(byTime));

    const lastWithRequest = new Map<string, Slot>();
    for (const { slot } of unknownCalls) {
      slot.twin = lastWithRequest.get(request(slot.op)) ?? null;
      lastWithRequest.set(request(slot.op), slot);
    }
  }

  run(maxSteps: number, deadline: number): KeyOutcome {
    if (this.remaining === 0) return { ok: true };
    let steps = 0;
    let e: EventNode | null = this.firstCandidate();
    while (e !== null) {
      if (++steps > maxSteps) {
        return { ok: 'unknown', reason: `${this.where()} still undecided after ${maxSteps} search steps` };
      }
      if (steps % CLOCK_EVERY === 0 && performance.now() > deadline) {
        return { ok: 'unknown', reason: `${this.where()} still undecided when the timeout expired` };
      }
      if (e.isCall) {
        const outcome = this.tryLinearize(e.slot);
        if (outcome === 'done') return { ok: true };
        if (outcome === 'linearized') e = this.firstCandidate();
        else if (outcome === 'not here') e = this.nextCandidate(e);
        else e = this.backtrack();
      } else {
        // The return of an op not linearized yet: it had to take effect by now.
        this.noteDeadEnd(e);
        e = this.backtrack();
      }
    }
    if (this.furthest === undefined) throw new Error('linearizability: failed without a dead end');
    return { ok: false, deadEnd: describeDeadEnd(this.furthest) };
  }

  /**
   * Linearizes `slot` next if it can take effect and leads to a state not explored yet. 'dead end':
   * it is a read that fits the value but leads to an explored state, so this state fails too.
   */
  private tryLinearize(slot: Slot): 'linearized' | 'done' | 'not here' | 'dead end' {
    if (slot.twin !== null && !slot.twin.linearized) return 'not here';
    const result = stepKv(this.value, slot.op, slot.output);
    if (!result.ok) return 'not here';
    this.set.add(slot);
    if (!this.cache.add(this.set, result.value)) {
      this.set.remove(slot);
      return slot.readOnly ? 'dead end' : 'not here';
    }
    this.stack.push({ slot, before: this.value });
    this.value = result.value;
    this.lift(slot);
    if (slot.required) this.remaining--;
    return this.remaining === 0 ? 'done' : 'linearized';
  }

  /** Undoes linearizations until an untried candidate is left; null when there is none. */
  private backtrack(): EventNode | null {
    for (;;) {
      const top = this.stack.pop();
      if (top === undefined) return null;
      this.value = top.before;
      this.set.remove(top.slot);
      this.unlift(top.slot);
      if (top.slot.required) this.remaining++;
      // A read taken because it fitted was the only move worth trying from its state.
      if (!top.slot.readOnly) return this.nextCandidate(top.slot.callEvent);
    }
  }

  /** Keeps the dead end that got furthest: most successful ops, then fewest timed-out ones. */
  private noteDeadEnd(due: EventNode): void {
    const required = this.requiredCount - this.remaining;
    const unknown = this.stack.length - required;
    const f = this.furthest;
    if (f === undefined || required > f.required || (required === f.required && unknown < f.unknown)) {
      this.furthest = {
        stack: this.stack.slice(),
        value: this.value,
        candidates: this.candidates(due),
        due: due.slot,
        required,
        unknown,
      };
    }
  }

  // At a given state the walk visits the calls made before the first pending return: first those
  // of successful reads (a read that fits the value is taken and nothing else tried, see Slot),
  // then those of the other successful ops, then those of timed-out ops, and then reaches that
  // return (a dead end). Timed-out ops come last because they are optional: tried only where the
  // successful ops cannot go on without one, they do not multiply the search. The walk only runs
  // while a successful op is pending, so a return is always ahead.

  private firstCandidate(): EventNode {
    return this.readFrom(this.events.first);
  }

  private nextCandidate(call: EventNode): EventNode {
    const slot = call.slot;
    if (!slot.required) return this.unknownFrom(call.next, this.firstReturn());
    return slot.readOnly ? this.readFrom(call.next) : this.writeFrom(call.next);
  }

  private readFrom(start: EventNode | null): EventNode {
    for (let e = ahead(start); e.isCall; e = ahead(e.next)) if (e.slot.readOnly) return e;
    return this.writeFrom(this.events.first);
  }

  private writeFrom(start: EventNode | null): EventNode {
    let e = ahead(start);
    for (; e.isCall; e = ahead(e.next)) if (!e.slot.readOnly) return e;
    return this.unknownFrom(this.unknownCalls.first, e);
  }

  private unknownFrom(call: EventNode | null, due: EventNode): EventNode {
    return call !== null && call.time <= due.time ? call : due;
  }

  private firstReturn(): EventNode {
    let e = ahead(this.events.first);
    while (e.isCall) e = ahead(e.next);
    return e;
  }

  private lift(slot: Slot): void {
    slot.linearized = true;
    if (slot.returnEvent === null) {
      this.unknownCalls.remove(slot.callEvent);
      return;
    }
    this.events.remove(slot.callEvent);
    this.events.remove(slot.returnEvent);
  }

  private unlift(slot: Slot): void {
    slot.linearized = false;
    if (slot.returnEvent === null) {
      this.unknownCalls.restore(slot.callEvent);
      return;
    }
    this.events.restore(slot.returnEvent);
    this.events.restore(slot.callEvent);
  }

  /** The ops the walk tries before reaching `due`, the first pending return. */
  private candidates(due: EventNode): Slot[] {
    const slots: Slot[] = [];
    for (let e = this.firstCandidate(); e !== due; e = this.nextCandidate(e)) {
      if (e.slot.twin === null || e.slot.twin.linearized) slots.push(e.slot);
    }
    return slots;
  }

  private where(): string {
    return `key ${JSON.stringify(this.ops[0]?.op.key)} (${this.slots.length} operations)`;
  }
}

function describeDeadEnd(f: Furthest): DeadEnd {
  const linearized = f.stack.map((frame, i) => {
    const next = f.stack[i + 1];
    return { slot: frame.slot, value: next === undefined ? f.value : next.before };
  });
  const blocked = f.candidates.map((slot) => {
    const result = stepKv(f.value, slot.op, slot.output);
    return { slot, reason: result.ok ? 'leads only to dead ends' : result.reason };
  });
  return { linearized, value: f.value, blocked, due: f.due };
}

/** What an op asks for, without who asked or when: equal for interchangeable ops on one key. */
function request(op: HistoryOp): string {
  switch (op.op) {
    case 'put':
    case 'append':
      return `${op.op} ${JSON.stringify(op.value)}`;
    case 'cas':
      return `cas ${JSON.stringify(op.expected)} ${JSON.stringify(op.value)}`;
    case 'incr':
      return `incr ${op.n}`;
    case 'get':
    case 'reset':
      return op.op;
  }
}

function ahead(e: EventNode | null): EventNode {
  if (e === null) throw new Error('linearizability: walked past the last return');
  return e;
}

/** A fixed-seed generator of 32-bit values (splitmix32), so that every check runs the same way. */
function zobristRandom(): () => number {
  let state = 0;
  return () => {
    state = (state + 0x9e3779b9) | 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** How many ops of the longest linearizable prefix an explanation shows. */
const PREFIX_SHOWN = 10;
/** How many timed-out candidates an explanation lists by index. */
const TIMED_OUT_SHOWN = 20;

function explain(key: string, opCount: number, d: DeadEnd): string {
  const lines = [`key ${JSON.stringify(key)}: its ${opCount} operations have no linearization.`];
  const line = (slot: Slot, rest: string): string => `  [${slot.index}] ${describeOp(slot.op)}${rest}`;

  if (d.linearized.length === 0) {
    lines.push('No operation can take effect first (the key starts absent):');
  } else {
    const count = d.linearized.length;
    const shown = d.linearized.slice(-PREFIX_SHOWN);
    const which = shown.length < count ? `; the last ${shown.length}` : '';
    lines.push(`Longest linearizable prefix found: ${count} operations${which}, each with the value after it:`);
    if (shown.length < count) lines.push('  ...');
    for (const step of shown) lines.push(line(step.slot, `  => ${showValue(step.value)}`));
    const then = `Then the value is ${showValue(d.value)}`;
    lines.push(`${then} and none of the operations that could come next can take effect:`);
  }
  const timedOut = d.blocked.filter((b) => !b.slot.required).map((b) => `[${b.slot.index}]`);
  for (const b of d.blocked) if (b.slot.required) lines.push(line(b.slot, `: ${b.reason}`));
  if (timedOut.length > 0) {
    const more = timedOut.length > TIMED_OUT_SHOWN ? ` and ${timedOut.length - TIMED_OUT_SHOWN} more` : '';
    const list = timedOut.slice(0, TIMED_OUT_SHOWN).join(', ') + more;
    lines.push(`  (timed-out operations that could also take effect here do not help: ${list})`);
  }
  lines.push(`[${d.due.index}] returned at ${d.due.op.return ?? '?'}, so it had to take effect before then.`);
  return lines.join('\n');
}
