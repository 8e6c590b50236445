// A typed handle on one group (issue 17, point 9): `host.group(name, machine)` and
// `client.group(name, machine)` return an object whose command and query take the machine's own
// command and query types and resolve with its reply type, so a TypeScript caller gets a compile
// error for a command the machine does not take, instead of a COMMAND_FAILED at run time. The
// machine argument only gives the types: the handle calls the group by name through its host or
// client (host.command / client.command and their queries), whose errors and semantics it has.

import { validateName } from '../fleet/names.js';
import type { StateMachine } from '../group/state-machine.js';
import type { CallOptions, QueryOptions } from './options.js';

/** The command, query and reply types of a state machine, for declaring a handle's type. */
export type CommandOf<M> = M extends StateMachine<any, infer C, any, any> ? C : never;
export type QueryOf<M> = M extends StateMachine<any, any, any, infer Q> ? Q : never;
export type ReplyOf<M> = M extends StateMachine<any, any, infer R, any> ? R : never;

export interface GroupHandle<C, R, Q> {
  /** The group's name. */
  readonly name: string;
  /** Applies `cmd` to the group's machine, once, on every replica; resolves with its reply. */
  command(cmd: C, options?: CallOptions): Promise<R>;
  /** Runs `q` against the group's state: linearizable by default, or 'lease' / 'local'. */
  query(q: Q, options?: QueryOptions): Promise<R>;
}

/** What a handle calls: a Host or a Client. */
export interface GroupCaller {
  command<R>(name: string, cmd: unknown, options?: CallOptions): Promise<R>;
  query<R>(name: string, q: unknown, options?: QueryOptions): Promise<R>;
}

/** A handle on group `name` through `caller`; BAD_NAME at once for a name no group can have. */
export function groupHandle<S, C, R, Q>(caller: GroupCaller, name: string, _machine: StateMachine<S, C, R, Q>): GroupHandle<C, R, Q> {
  validateName('group', name);
  return {
    name,
    command: (cmd, options) => caller.command<R>(name, cmd, options),
    query: (q, options) => caller.query<R>(name, q, options),
  };
}
