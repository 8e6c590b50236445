// Client histories: what each client asked for, what it was told, and when. The simulation and the
// chaos test record one with a HistoryRecorder, write it as JSON lines (one operation a line, the
// format in docs/TESTING.md "Client histories") and hand it to the linearizability checker.
//
// {"client":1,"op":"cas","key":"k","expected":"a","value":"b","output":true,"call":10,"return":25,"ok":true}
//
// The meaning of each operation (what it does to a key, what its output must be) is in kv-model.ts.

import { readFileSync, writeFileSync } from 'node:fs';
import { FlotillaError } from '../common/errors.js';

/** What a client asks for. `value`, `expected` and `n` appear only on the operations that use them. */
export type OpInput =
  | { op: 'put'; key: string; value: string }
  | { op: 'get'; key: string }
  | { op: 'append'; key: string; value: string }
  /** Set `value` if the current value is `expected` (null: if the key is absent). */
  | { op: 'cas'; key: string; expected: string | null; value: string }
  | { op: 'incr'; key: string; n: number }
  | { op: 'reset'; key: string };

export type OpKind = OpInput['op'];

/** A reply as recorded. null is "absent" for a get and "not reported" for put, append, incr, reset. */
export type Output = string | number | boolean | null;

/**
 * true: the operation took effect once and `output` is its reply. false: it certainly did not take
 * effect. 'unknown': it may or may not have (a timeout), at any time after `call`.
 */
export type OpStatus = boolean | 'unknown';

export type HistoryOp = OpInput & {
  client: number;
  output?: Output;
  /** Integer nanoseconds from one monotonic clock (below 2^53). */
  call: number;
  /** Absent or null only when ok is 'unknown'; the checker treats an unknown op's return as +infinity. */
  return?: number | null;
  ok: OpStatus;
};

const OP_KINDS: readonly string[] = ['put', 'get', 'append', 'cas', 'incr', 'reset'];

/**
 * Validates one decoded operation and returns a clean copy (fields in the documented order,
 * irrelevant fields such as a get's `"value":null` dropped). Throws an Error saying what is wrong.
 */
export function parseOp(raw: unknown): HistoryOp {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new Error('not a JSON object');
  }
  const fields = raw as Record<string, unknown>;
  const client = integerField(fields, 'client');
  const input = parseInput(fields);
  const call = timeField(fields, 'call');
  const ok = fields['ok'];
  if (ok !== true && ok !== false && ok !== 'unknown') {
    throw new Error(`"ok" must be true, false or "unknown", got ${JSON.stringify(ok)}`);
  }
  let ret: number | undefined;
  if (fields['return'] === undefined || fields['return'] === null) {
    if (ok !== 'unknown') throw new Error('"return" is required unless ok is "unknown"');
  } else {
    ret = timeField(fields, 'return');
    if (ret < call) throw new Error(`"return" (${ret}) is before "call" (${call})`);
  }
  const output = fields['output'];
  if (output !== undefined && !isOutput(output)) {
    throw new Error(`"output" must be a string, number, boolean or null, got ${JSON.stringify(output)}`);
  }
  if (ok === true) checkOutput(input.op, output);

  return {
    client,
    ...input,
    ...(output === undefined ? {} : { output }),
    call,
    ...(ret === undefined ? {} : { return: ret }),
    ok,
  };
}

function parseInput(fields: Record<string, unknown>): OpInput {
  const kind = fields['op'];
  if (typeof kind !== 'string' || !OP_KINDS.includes(kind)) {
    throw new Error(`"op" must be one of ${OP_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  }
  const key = stringField(fields, 'key');
  switch (kind as OpKind) {
    case 'put':
      return { op: 'put', key, value: stringField(fields, 'value') };
    case 'get':
      return { op: 'get', key };
    case 'append':
      return { op: 'append', key, value: stringField(fields, 'value') };
    case 'cas': {
      const expected = fields['expected'];
      if (expected !== null && typeof expected !== 'string') {
        throw new Error(`"expected" must be a string or null (key absent), got ${JSON.stringify(expected)}`);
      }
      return { op: 'cas', key, expected, value: stringField(fields, 'value') };
    }
    case 'incr':
      return { op: 'incr', key, n: integerField(fields, 'n') };
    case 'reset':
      return { op: 'reset', key };
  }
}

/** The reply a successful operation must carry to be checkable. */
function checkOutput(kind: OpKind, output: Output | undefined): void {
  const isInteger = typeof output === 'number' && Number.isSafeInteger(output);
  switch (kind) {
    case 'get':
      if (output === undefined || typeof output === 'boolean' || (typeof output === 'number' && !isInteger)) {
        throw new Error('a successful get needs "output": the value read (string or integer) or null');
      }
      return;
    case 'cas':
      if (typeof output !== 'boolean') throw new Error('a successful cas needs "output": true or false');
      return;
    case 'incr':
      if (output !== undefined && output !== null && !isInteger && typeof output !== 'string') {
        throw new Error('"output" of incr must be the new value (an integer) or null');
      }
      return;
    case 'append':
      if (output !== undefined && output !== null && typeof output !== 'string') {
        throw new Error('"output" of append must be the new value (a string) or null');
      }
      return;
    case 'put':
    case 'reset':
      return;
  }
}

function isOutput(v: unknown): v is Output {
  return v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function stringField(fields: Record<string, unknown>, name: string): string {
  const v = fields[name];
  if (typeof v !== 'string') throw new Error(`"${name}" must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function integerField(fields: Record<string, unknown>, name: string): number {
  const v = fields[name];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new Error(`"${name}" must be an integer, got ${JSON.stringify(v)}`);
  }
  return v;
}

function timeField(fields: Record<string, unknown>, name: string): number {
  const v = integerField(fields, name);
  if (v < 0) throw new Error(`"${name}" must be a non-negative integer (nanoseconds), got ${v}`);
  return v;
}

/** Parses JSON lines; blank lines are skipped. Throws a BAD_ARGUMENT FlotillaError naming the line. */
export function parseHistory(text: string): HistoryOp[] {
  const ops: HistoryOp[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '') continue;
    try {
      ops.push(parseOp(JSON.parse(line)));
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      throw new FlotillaError('BAD_ARGUMENT', `history line ${i + 1}: ${reason}`, { line: i + 1 });
    }
  }
  return ops;
}

/** One JSON line per operation, each ending in a newline. */
export function formatHistory(ops: readonly HistoryOp[]): string {
  return ops.map((op) => JSON.stringify(parseOp(op)) + '\n').join('');
}

export function writeHistory(path: string, ops: readonly HistoryOp[]): void {
  writeFileSync(path, formatHistory(ops));
}

export function readHistory(path: string): HistoryOp[] {
  return parseHistory(readFileSync(path, 'utf8'));
}

/** One line for a human: `client 3: cas("k", "a" -> "b") -> true  [100, 250]`. */
export function describeOp(op: HistoryOp): string {
  const q = (s: string | null): string => JSON.stringify(s);
  let call: string;
  switch (op.op) {
    case 'put':
    case 'append':
      call = `${op.op}(${q(op.key)}, ${q(op.value)})`;
      break;
    case 'cas':
      call = `cas(${q(op.key)}, ${q(op.expected)} -> ${q(op.value)})`;
      break;
    case 'incr':
      call = `incr(${q(op.key)}, ${op.n})`;
      break;
    case 'get':
    case 'reset':
      call = `${op.op}(${q(op.key)})`;
      break;
  }
  // A null reply means "absent" from a get and "not reported" from anything else.
  const replied = op.ok === true && op.output !== undefined && (op.output !== null || op.op === 'get');
  const reply = replied ? ` -> ${JSON.stringify(op.output)}` : '';
  const status = op.ok === 'unknown' ? '  (timed out)' : op.ok === false ? '  (failed)' : '';
  const end = op.ok === 'unknown' ? '∞)' : `${op.return ?? '?'}]`;
  return `client ${op.client}: ${call}${reply}${status}  [${op.call}, ${end}`;
}

/** Nanoseconds since the first call, from the process's monotonic clock. */
export function monotonicClock(): () => number {
  const start = process.hrtime.bigint();
  return () => Number(process.hrtime.bigint() - start);
}

/** Identifies an operation between HistoryRecorder.call and its completion. */
export type PendingOp = number;

/**
 * Records a history as clients run: `call` before sending, then exactly one of `ok`, `fail` or
 * `unknown` when the outcome is known. The clock is pluggable so the simulation can use virtual
 * time; it must return non-decreasing integer nanoseconds.
 */
export class HistoryRecorder {
  private readonly ops: HistoryOp[] = [];
  private readonly done: boolean[] = [];

  constructor(private readonly clock: () => number = monotonicClock()) {}

  call(client: number, input: OpInput): PendingOp {
    this.ops.push({ client, ...input, call: this.now(), ok: 'unknown' });
    this.done.push(false);
    return this.ops.length - 1;
  }

  /** The operation took effect and replied `output` (null for a put or reset, or a get of an absent key). */
  ok(id: PendingOp, output: Output): void {
    const op = this.complete(id);
    op.ok = true;
    op.output = output;
    op.return = this.now();
  }

  /** The operation certainly did not take effect. */
  fail(id: PendingOp): void {
    const op = this.complete(id);
    op.ok = false;
    op.return = this.now();
  }

  /** The client gave up without knowing (a timeout): the operation may take effect at any later time. */
  unknown(id: PendingOp): void {
    this.complete(id);
  }

  /** Every operation in call order; those still pending are reported as unknown. */
  history(): HistoryOp[] {
    return this.ops.map((op) => ({ ...op }));
  }

  private complete(id: PendingOp): HistoryOp {
    const op = this.ops[id];
    if (op === undefined || this.done[id] !== false) {
      throw new Error(`history recorder: operation ${id} is not pending`);
    }
    this.done[id] = true;
    return op;
  }

  private now(): number {
    const t = this.clock();
    if (!Number.isSafeInteger(t) || t < 0) {
      throw new Error(`history recorder: the clock must return integer nanoseconds, got ${t}`);
    }
    return t;
  }
}
