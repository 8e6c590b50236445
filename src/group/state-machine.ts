// The user-facing replicated state machine: plain data and functions. Every replica runs the same
// commands in the same order from the same state, so each function must depend on its arguments
// alone: no clock, no randomness, no I/O, nothing that differs between hosts. Replicas compare
// the hashes of their snapshots at the same indexes and report a difference (state-hash.ts).

import { checkJsonDepth, toJsonText } from './json-value.js';

export interface StateMachine<S, C, R, Q> {
  init(): S;
  /**
   * Applies a command: returns the next state (`state` itself, changed in place, or a new value)
   * and the reply. It may throw: that is the same COMMAND_FAILED error, with its message, on every
   * replica (an error with a string `code`, such as common/errors.ts MachineError, also gives the
   * caller machineCode and machineDetails: machine-error.ts), and the group keeps `state`, the value it passed in, as it is at the throw. So a
   * command that builds a new state leaves the state unchanged when it throws, and one that changes
   * `state` in place must check everything before its first change: flotilla does not undo a
   * change made before a throw (that would take a copy of the state per command). If it does
   * change and then throw, the change stays, on every replica alike (each ran the same code on the
   * same state), and is in the next snapshot like any other.
   */
  command(state: S, cmd: C): { state: S; reply: R };
  /** Reads the state, without changing it; a throw is COMMAND_FAILED for that query (with a code, as for command). */
  query(state: S, q: Q): R;
  /**
   * The state as bytes, taken at the applied indexes every replica chooses alike (multiples of
   * snapshotEvery, and where the log since the last snapshot reached maxLogBytes). Equal
   * states must give equal bytes (write a Map's keys sorted), or replicas are reported as
   * differing. A throw does not stop the group: it goes on from its log, uncompacted, reports
   * itself degraded and tries again later (snapshot-schedule.ts).
   */
  snapshot(state: S): Uint8Array;
  /** The state `snapshot` wrote. A throw stalls that replica (it takes no part in its group) until its host restarts. */
  restore(bytes: Uint8Array): S;
}

/** How values cross the log and the wire. */
export interface Codec<T> {
  /** Throws (BAD_ARGUMENT, saying why) for a value it cannot encode. */
  encode(value: T): Uint8Array;
  decode(bytes: Uint8Array): T;
  /**
   * Checks bytes from outside (a client's request, a reply on its way out) before they are proposed,
   * decoded for the machine or sent: throws BAD_ARGUMENT for bytes this codec refuses. It must be
   * cheap (it runs on every request) and is never applied to the log: entries already there apply
   * as they always did, on every replica and every version alike.
   */
  validate?(bytes: Uint8Array, what: string): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The default codec: JSON text in UTF-8; validate refuses more than MAX_JSON_DEPTH levels
 * (json-value.ts). encode leaves that to the group's door, which checks every command and query
 * once, wherever it came from. `what` names the value in errors ("the command").
 */
export function jsonCodec<T>(what = 'the value'): Codec<T> {
  return {
    encode(value: T): Uint8Array {
      return encoder.encode(toJsonText(value, what));
    },
    decode(bytes: Uint8Array): T {
      return JSON.parse(decoder.decode(bytes)) as T;
    },
    validate: checkJsonDepth,
  };
}

/**
 * The default reply codec: JSON, where a command that replies nothing (undefined) is zero bytes.
 * Replies are encoded as commands apply (a session keeps them) and validated on their way out.
 */
export function jsonReplyCodec<T>(): Codec<T> {
  const json = jsonCodec<T>('the reply');
  return {
    encode: (value: T): Uint8Array => (value === undefined ? new Uint8Array(0) : encoder.encode(toJsonText(value, 'the reply'))),
    decode: (bytes: Uint8Array): T => (bytes.length === 0 ? (undefined as T) : json.decode(bytes)),
    validate: checkJsonDepth,
  };
}
