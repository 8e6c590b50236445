// What the fleet parts and the host ask of the cluster group through the router: a command to
// apply (activate a host, mark one failed, add a group...) or a query (a group's record, the whole
// metadata). Replies cross the wire as JSON and are checked before use.

import { FlotillaError } from '../common/errors.js';
import { jsonCodec } from '../group/state-machine.js';
import { CLUSTER_GROUP, type ClusterCommand, type ClusterQuery, type ClusterReply } from './cluster-machine.js';
import type { Router } from './router.js';

const decoder = new TextDecoder();

export class ClusterCalls {
  constructor(private readonly router: Router) {}

  /** Applies `command`; a refusal throws its FlotillaError. */
  async command(command: ClusterCommand, timeoutMs: number): Promise<ClusterReply & { ok: true }> {
    return accepted(decodeClusterReply(await this.commandBytes(command, timeoutMs)));
  }

  /** Applies `command`: the reply's bytes, for decodeClusterReply (a plain promise, no await of its own). */
  commandBytes(command: ClusterCommand, timeoutMs: number): Promise<Uint8Array> {
    return this.router.call(CLUSTER_GROUP, 'command', jsonCodec<ClusterCommand>().encode(command), { timeoutMs });
  }

  /** Runs `query` (linearizable): the reply's bytes, for decodeClusterReply. */
  queryBytes(query: ClusterQuery, timeoutMs: number): Promise<Uint8Array> {
    return this.router.call(CLUSTER_GROUP, 'query', jsonCodec<unknown>().encode(query), { timeoutMs });
  }
}

/** The reply if it is no refusal; else the refusal as a FlotillaError. */
export function accepted(reply: ClusterReply): ClusterReply & { ok: true } {
  if (!reply.ok) throw new FlotillaError(reply.code, reply.message);
  return reply;
}

export function decodeClusterReply(bytes: Uint8Array): ClusterReply {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw malformed('it is not JSON');
  }
  return checkClusterReply(value);
}

/** `value` if it has a cluster reply's shape (the records in it are the cluster machine's own). */
export function checkClusterReply(value: unknown): ClusterReply {
  if (typeof value !== 'object' || value === null) throw malformed('it is not an object');
  const reply = value as Record<string, unknown>;
  if (reply.ok === false) {
    if (typeof reply.code !== 'string' || typeof reply.message !== 'string') throw malformed('a refusal without a code and a message');
    return value as ClusterReply;
  }
  if (reply.ok !== true) throw malformed('no ok field');
  for (const key of ['group', 'host', 'state']) {
    const field = reply[key];
    if (field !== undefined && (typeof field !== 'object' || field === null)) throw malformed(`its ${key} is not an object`);
  }
  return value as ClusterReply;
}

function malformed(why: string): FlotillaError {
  return new FlotillaError('TRANSPORT_PROTOCOL', `malformed reply of the cluster group: ${why}`);
}
