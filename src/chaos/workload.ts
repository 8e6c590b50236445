// The clients of `npm run chaos`: a few logical clients, each its own connect() Client (its own
// connection and session id) in the runner's process, so killing or freezing a host never takes a
// client with it. Each runs one operation at a time on a random group and records it (call and
// return on one monotonic clock) in a HistoryRecorder, in the docs/TESTING.md history format with
// keys `group/key`.
//
// Groups and keys: a kv group has a register `r` (put, get, cas) and an append-only `log` (append
// of a unique token, get); a counter group has `c` (incr by 1-3, get). The append-only logs and
// the counters make "no acknowledged write is missing" checkable from one final read each
// (missingWrites), besides the linearizability check of the whole history.
//
// Outcomes: an operation is ok with its reply; failed (ok: false) only on an error that
// guarantees it did not take effect; unknown otherwise. Which codes guarantee that, from
// src/fleet/router.ts and src/fleet/request-server.ts:
// - UNAVAILABLE: the router gives it only when no attempt may have been applied (an attempt that
//   timed out, lost its host, or met SHUTTING_DOWN / STORAGE_FAILED turns the outcome into TIMEOUT);
// - BUSY: back-pressure before proposing; after an attempt that may have been applied the router
//   asks again and ends in TIMEOUT instead;
// - COMMAND_FAILED: applied as an error reply, which changes no state;
// - BAD_ARGUMENT, NO_SUCH_GROUP, NO_SUCH_MACHINE: refused before anything was proposed.
// TIMEOUT, SHUTTING_DOWN and no answer at all are unknown. A failed read changes nothing either way.
// (A replica that leaves its host with commands in its log answers them TIMEOUT, not NOT_LEADER:
// group.ts halt.)

import { HistoryRecorder, type HistoryOp, type OpInput, type Output } from '../check/history.js';
import { FlotillaError } from '../common/errors.js';
import { randomInt, type Random } from '../raft/random.js';
import { within } from '../demo/host-client.js';
import { HISTORY_COUNTER, HISTORY_KV } from '../demo/history-machines.js';

export interface GroupSpec {
  name: string;
  machine: typeof HISTORY_KV | typeof HISTORY_COUNTER;
}

/** Codes after which a command certainly did not take effect (see the header). */
export const DEFINITE_FAILURES: ReadonlySet<string> = new Set(['UNAVAILABLE', 'BUSY', 'COMMAND_FAILED', 'BAD_ARGUMENT', 'NO_SUCH_GROUP', 'NO_SUCH_MACHINE']);

/** The code recorded for a call that did not settle within its deadline plus a grace period. */
export const NO_ANSWER = 'NO_ANSWER';
/** The code recorded for a reply that is not a history machine's (a bug: shows in the summary). */
export const BAD_REPLY = 'BAD_REPLY';

class BadReply extends Error {}

const REGISTER = 'r';
const LOG = 'log';
const COUNTER = 'c';

/** The history keys of a group. */
export function keysOf(spec: GroupSpec): string[] {
  return spec.machine === HISTORY_KV ? [`${spec.name}/${REGISTER}`, `${spec.name}/${LOG}`] : [`${spec.name}/${COUNTER}`];
}

export type Outcome = 'ok' | 'failed' | 'unknown';

/** What the workload needs of a client (connect()'s Client has it). */
export interface OpClient {
  command(group: string, cmd: unknown, options: { timeoutMs: number }): Promise<unknown>;
  query(group: string, q: unknown, options: { timeoutMs: number }): Promise<unknown>;
}

/** The output in a history machine's reply ({ id, output }); throws on anything else. */
function outputOf(reply: unknown): Output {
  const output = typeof reply === 'object' && reply !== null && 'output' in reply ? reply.output : undefined;
  if (output === null || typeof output === 'string' || typeof output === 'number' || typeof output === 'boolean') return output;
  throw new BadReply(`not a history machine reply: ${JSON.stringify(reply)}`);
}

export interface OpTally {
  ok: number;
  unknown: number;
  failed: number;
  /** Failed and unknown outcomes by error code. */
  byCode: Map<string, number>;
}

export interface WorkloadOptions {
  groups: readonly GroupSpec[];
  /** Deadline given to each client call. */
  opTimeoutMs: number;
  /** Pause between one client's operations, drawn from [0, thinkMs). */
  thinkMs: number;
}

/** What the writes to a key did, for the lost-write check. */
interface WriteLedger {
  /** Append tokens (log keys) or increment amounts (counters), by outcome. */
  appended: Map<string, Outcome>;
  incrAcked: number;
  incrUnknown: number;
}

export class Workload {
  readonly recorder = new HistoryRecorder();
  readonly tally: OpTally = { ok: 0, unknown: 0, failed: 0, byCode: new Map() };
  private readonly lastSeen = new Map<string, string | null>();
  private readonly ledgers = new Map<string, WriteLedger>();
  private opId = 0;
  private stopping = false;
  private readonly running: Array<Promise<void>> = [];

  constructor(private readonly o: WorkloadOptions) {}

  /** Starts client `n` (history client id) on `client`, drawing its operations from `random`. */
  start(n: number, client: OpClient, random: Random): void {
    this.running.push(this.loop(n, client, random));
  }

  /** Stops issuing operations; resolves once every operation in flight has an outcome. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.running);
  }

  history(): HistoryOp[] {
    return this.recorder.history();
  }

  private async loop(n: number, client: OpClient, random: Random): Promise<void> {
    while (!this.stopping) {
      const spec = this.o.groups[randomInt(random, 0, this.o.groups.length)]!;
      await this.run(n, client, spec.name, this.randomOp(n, spec, random));
      const think = randomInt(random, 0, this.o.thinkMs);
      if (think > 0) await new Promise((resolve) => setTimeout(resolve, think));
    }
  }

  private randomOp(n: number, spec: GroupSpec, random: Random): OpInput {
    const token = `${n}.${this.opId + 1}`;
    const r = random();
    if (spec.machine === HISTORY_COUNTER) {
      const key = `${spec.name}/${COUNTER}`;
      return r < 0.65 ? { op: 'incr', key, n: randomInt(random, 1, 4) } : { op: 'get', key };
    }
    if (random() < 0.5) {
      const key = `${spec.name}/${LOG}`;
      return r < 0.6 ? { op: 'append', key, value: `${token};` } : { op: 'get', key };
    }
    const key = `${spec.name}/${REGISTER}`;
    if (r < 0.3) return { op: 'put', key, value: token };
    if (r < 0.65) return { op: 'get', key };
    // Mostly what was seen last (so some succeed), sometimes a value that was never written.
    const expected = random() < 0.85 ? (this.lastSeen.get(key) ?? null) : `${n}.0`;
    return { op: 'cas', key, expected, value: token };
  }

  /**
   * Runs one operation through `client` and records it; resolves with its outcome. Used for the
   * clients' operations and for the final reads.
   */
  async run(n: number, client: OpClient, group: string, input: OpInput): Promise<{ outcome: Outcome; output: Output; code: string }> {
    const id = ++this.opId;
    const pending = this.recorder.call(n, input);
    const call =
      input.op === 'get'
        ? client.query(group, { key: input.key }, { timeoutMs: this.o.opTimeoutMs })
        : client.command(group, { id, input }, { timeoutMs: this.o.opTimeoutMs });
    let outcome: Outcome;
    let output: Output = null;
    let code = '';
    try {
      // The client keeps its own deadline; this one only guards against a call that never settles.
      output = outputOf(await within(`${group} ${input.op}`, call, this.o.opTimeoutMs + 2000));
      this.recorder.ok(pending, output);
      outcome = 'ok';
    } catch (err) {
      code = err instanceof FlotillaError ? err.code : err instanceof BadReply ? BAD_REPLY : NO_ANSWER;
      outcome = DEFINITE_FAILURES.has(code) ? 'failed' : 'unknown';
      if (outcome === 'failed') this.recorder.fail(pending);
      else this.recorder.unknown(pending);
      this.tally.byCode.set(code, (this.tally.byCode.get(code) ?? 0) + 1);
    }
    this.tally[outcome]++;
    this.observe(input, outcome, output);
    return { outcome, output, code };
  }

  private observe(input: OpInput, outcome: Outcome, output: Output): void {
    if (outcome === 'ok') {
      if (input.op === 'get' && (output === null || typeof output === 'string')) this.lastSeen.set(input.key, output);
      if (input.op === 'put' || (input.op === 'cas' && output === true)) this.lastSeen.set(input.key, input.value);
    }
    if (input.op !== 'append' && input.op !== 'incr') return;
    let ledger = this.ledgers.get(input.key);
    if (ledger === undefined) {
      ledger = { appended: new Map(), incrAcked: 0, incrUnknown: 0 };
      this.ledgers.set(input.key, ledger);
    }
    if (input.op === 'append') ledger.appended.set(input.value.slice(0, -1), outcome);
    else if (outcome === 'ok') ledger.incrAcked += input.n;
    else if (outcome === 'unknown') ledger.incrUnknown += input.n;
  }

  /**
   * "No acknowledged write is missing", from the final value of `key` (read after every host is
   * back): every acknowledged append is in its log exactly once, nothing else is but appends whose
   * outcome is unknown (at most once each); a counter is at least the sum of its acknowledged
   * increments and at most that plus the unknown ones. Returns what is wrong, empty if nothing.
   */
  missingWrites(key: string, finalValue: Output): string[] {
    const ledger = this.ledgers.get(key);
    if (ledger === undefined) return [];
    const wrong: string[] = [];
    if (key.endsWith(`/${COUNTER}`)) {
      const value = finalValue === null ? 0 : Number(finalValue);
      if (value < ledger.incrAcked) wrong.push(`${key}: final value ${value} is below the ${ledger.incrAcked} acknowledged by increments: acknowledged writes are missing`);
      if (value > ledger.incrAcked + ledger.incrUnknown) wrong.push(`${key}: final value ${value} exceeds the acknowledged ${ledger.incrAcked} plus the unknown ${ledger.incrUnknown}`);
      return wrong;
    }
    const tokens = typeof finalValue === 'string' ? finalValue.split(';').filter((t) => t !== '') : [];
    const seen = new Map<string, number>();
    for (const t of tokens) seen.set(t, (seen.get(t) ?? 0) + 1);
    const missing = [...ledger.appended].filter(([t, o]) => o === 'ok' && !seen.has(t)).map(([t]) => t);
    if (missing.length > 0) wrong.push(`${key}: acknowledged appends missing from the final value: ${missing.slice(0, 10).join(' ')}${missing.length > 10 ? ` (${missing.length} in all)` : ''}`);
    for (const [t, count] of seen) {
      const o = ledger.appended.get(t);
      if (count > 1) wrong.push(`${key}: append ${t} applied ${count} times`);
      if (o === undefined) wrong.push(`${key}: the final value holds ${t}, which no client appended`);
      else if (o === 'failed') wrong.push(`${key}: the final value holds ${t}, whose append failed definitely`);
    }
    return wrong;
  }

  /** Keys written by appends or increments, for the lost-write check. */
  ledgerKeys(): string[] {
    return [...this.ledgers.keys()];
  }
}
