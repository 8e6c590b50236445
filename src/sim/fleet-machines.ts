// The two state machines every simulated fleet host registers: `kv` (registers: put, get, append,
// cas, with the semantics the linearizability checker holds histories to) and `counter` (integer
// counters: incr, get). Every command carries the client operation's id and every reply names it,
// so the simulation sees in onApply which operation each index applied (exactly-once, and replicas
// agreeing on it).

import type { OpInput, Output } from '../check/history.js';
import type { StateMachine } from '../group/state-machine.js';
import { KvMachine } from './kv-machine.js';

export interface OpCommand {
  id: number;
  input: OpInput;
}

export interface OpReply {
  id: number;
  output: Output;
}

export interface KeyQuery {
  key: string;
}

export const FLEET_KV = 'kv';
export const FLEET_COUNTER = 'counter';

export const fleetKv: StateMachine<KvMachine, OpCommand, OpReply, KeyQuery> = {
  init: () => new KvMachine(),
  command(state, cmd) {
    const result = state.apply(cmd.input);
    if (!result.ok) throw new Error(`operation ${cmd.id}: ${result.error}`);
    return { state, reply: { id: cmd.id, output: result.output } };
  },
  query: (state, q) => ({ id: 0, output: state.read(q.key) }),
  snapshot: (state) => state.snapshot(),
  restore: (bytes) => KvMachine.restore(bytes),
};

/** Counters by key; an absent key reads as null and counts from 0. */
export type Counters = Record<string, number>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const fleetCounter: StateMachine<Counters, OpCommand, OpReply, KeyQuery> = {
  init: () => ({}),
  command(state, cmd) {
    if (cmd.input.op !== 'incr') throw new Error(`operation ${cmd.id}: a counter only increments`);
    const value = (state[cmd.input.key] ?? 0) + cmd.input.n;
    state[cmd.input.key] = value;
    return { state, reply: { id: cmd.id, output: value } };
  },
  query: (state, q) => ({ id: 0, output: state[q.key] ?? null }),
  snapshot: (state) => encoder.encode(JSON.stringify(Object.entries(state).sort())),
  restore: (bytes) => Object.fromEntries(JSON.parse(decoder.decode(bytes)) as Array<[string, number]>),
};

/** The operation id in an applied command's reply, if the reply is an OpReply. */
export function replyId(reply: unknown): number | undefined {
  if (typeof reply !== 'object' || reply === null || !('id' in reply)) return undefined;
  return typeof reply.id === 'number' ? reply.id : undefined;
}
