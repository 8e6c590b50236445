// The key-value machine of kv-machine.ts as a StateMachine for the real group runtime, so the
// histories of the loop simulation are checked against the same model (src/check/kv-model.ts).

import type { Output } from '../check/history.js';
import type { StateMachine } from '../group/state-machine.js';
import { KvMachine, type KvCommand } from './kv-machine.js';

/** A command's reply names the command, so the replicas' applied sequences can be compared. */
export interface KvReply {
  id: number;
  output: Output;
}

export interface KvQuery {
  key: string;
}

export type KvStateMachine = StateMachine<KvMachine, KvCommand, KvReply, KvQuery>;

/**
 * Commands update the state in place: a Group owns its state object alone and replaces it only
 * from restore(), so no other reader can see the change.
 */
export const kvStateMachine: KvStateMachine = {
  init: () => new KvMachine(),
  command(state, cmd) {
    const result = state.apply(cmd.input);
    // An incr of a non-integer: the same error reply on every replica (ok:false in the history).
    if (!result.ok) throw new Error(`command ${cmd.id}: ${result.error}`);
    return { state, reply: { id: cmd.id, output: result.output } };
  },
  query: (state, q) => ({ id: 0, output: state.read(q.key) }),
  snapshot: (state) => state.snapshot(),
  restore: (bytes) => KvMachine.restore(bytes),
};
