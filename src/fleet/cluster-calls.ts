// What the fleet parts and the host ask of the cluster group through the router: a command to
// apply (activate a host, mark one failed, add a group...) or a query (a group's record, the whole
// metadata). Replies cross the wire as JSON and are checked before use (cluster-protocol.ts).

import { FlotillaError } from '../common/errors.js';
import { jsonCodec } from '../group/state-machine.js';
import { CLUSTER_GROUP, type ClusterCommand, type ClusterQuery, type ClusterReply } from './cluster-machine.js';
import { decodeClusterReply } from './cluster-protocol.js';
import type { Router } from './router.js';

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
