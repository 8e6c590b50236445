// The sequential specification the checker holds histories to: each key is an independent register
// holding a string, or nothing. Integers are strings in canonical decimal form (Redis semantics:
// put "5" then incr 1 gives "6"), so one key can be written with put and counted with incr.
//
// Operations on a key whose current value is V (null when the key is absent):
//   put(value)            V := value. Output ignored.
//   get                   V unchanged. Output must be V: null when absent, else the string V; an
//                         integer output n matches the string String(n).
//   append(value)         V := (V ?? "") + value. Output null (not reported) or the new value.
//   cas(expected, value)  If V === expected (expected null: the key is absent), V := value and
//                         the output must be true; otherwise V is unchanged and the output false.
//   incr(n)               V must be absent (counts as 0) or a canonical integer; V := V + n
//                         (arbitrary precision). Output null (not reported) or the new value, as
//                         an integer or its decimal string. Incr of any other value is not a legal
//                         step: a real store answers it with an error, which is recorded as ok:false.
//   reset                 V := "0". Output ignored.
//
// For an operation whose outcome is unknown the output is not known either: its effect is applied
// and its output is not checked.

import type { OpInput, Output } from './history.js';

/** The value of one key: null when absent. */
export type KvValue = string | null;

export type StepResult = { ok: true; value: KvValue } | { ok: false; reason: string };

export const INITIAL_VALUE: KvValue = null;

const CANONICAL_INTEGER = /^(0|-?[1-9][0-9]*)$/;

/**
 * Applies `op` to a key holding `value`. `output` is the recorded reply, or undefined when it is
 * not known (the op timed out); a reply the specification cannot produce is not a legal step.
 */
export function stepKv(value: KvValue, op: OpInput, output: Output | undefined): StepResult {
  switch (op.op) {
    case 'put':
      return { ok: true, value: op.value };
    case 'get':
      if (output === undefined || sameValue(output, value)) return { ok: true, value };
      return { ok: false, reason: `read ${showValue(output)} but the value is ${showValue(value)}` };
    case 'append': {
      const next = (value ?? '') + op.value;
      if (typeof output === 'string' && output !== next) {
        return { ok: false, reason: `replied ${showValue(output)} but appending gives ${showValue(next)}` };
      }
      return { ok: true, value: next };
    }
    case 'cas': {
      const matches = value === op.expected;
      if (output === undefined || output === matches) return { ok: true, value: matches ? op.value : value };
      return {
        ok: false,
        reason: matches
          ? `failed but the value was the expected ${showValue(value)}`
          : `succeeded but the value was ${showValue(value)}, not the expected ${showValue(op.expected)}`,
      };
    }
    case 'incr': {
      if (value !== null && !CANONICAL_INTEGER.test(value)) {
        return { ok: false, reason: `cannot increment the non-integer value ${showValue(value)}` };
      }
      const next = (BigInt(value ?? '0') + BigInt(op.n)).toString();
      if (output !== undefined && output !== null && String(output) !== next) {
        return { ok: false, reason: `replied ${showValue(output)} but the value becomes ${next}` };
      }
      return { ok: true, value: next };
    }
    case 'reset':
      return { ok: true, value: '0' };
  }
}

function sameValue(output: Output, value: KvValue): boolean {
  if (output === null || typeof output === 'string') return output === value;
  return typeof output === 'number' && Number.isSafeInteger(output) && String(output) === value;
}

/** A value as shown in explanations: "absent" or a JSON string. */
export function showValue(v: Output): string {
  return v === null ? 'absent' : JSON.stringify(v);
}
