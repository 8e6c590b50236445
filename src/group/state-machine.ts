// The user-facing replicated state machine: plain data and pure functions. Every replica runs the
// same commands in the same order, so `command` must be deterministic (no clocks, no randomness).

import { FlotillaError } from '../errors.js';

export interface StateMachine<S, C, R, Q> {
  init(): S;
  /** Applies a command; throwing is allowed and becomes the same error reply on every replica. */
  command(state: S, cmd: C): { state: S; reply: R };
  query(state: S, q: Q): R;
  snapshot(state: S): Uint8Array;
  restore(bytes: Uint8Array): S;
}

/** How values cross the log and the wire. */
export interface Codec<T> {
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The default codec: JSON text in UTF-8. */
export function jsonCodec<T>(): Codec<T> {
  return {
    encode(value: T): Uint8Array {
      const text = JSON.stringify(value);
      // JSON.stringify(undefined) is undefined: there would be nothing to put in the log.
      if (text === undefined) throw new FlotillaError('BAD_ARGUMENT', 'value has no JSON encoding');
      return encoder.encode(text);
    },
    decode(bytes: Uint8Array): T {
      return JSON.parse(decoder.decode(bytes)) as T;
    },
  };
}

/** The default reply codec: JSON, where a command that replies nothing (undefined) is zero bytes. */
export function jsonReplyCodec<T>(): Codec<T> {
  const json = jsonCodec<T>();
  return {
    encode: (value: T): Uint8Array => (value === undefined ? new Uint8Array(0) : json.encode(value)),
    decode: (bytes: Uint8Array): T => (bytes.length === 0 ? (undefined as T) : json.decode(bytes)),
  };
}
