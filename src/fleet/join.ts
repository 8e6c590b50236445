// How a host that is not in the fleet's cluster group joins it: it sends its activation through a
// seed (a host of the fleet), which forwards it to the cluster group. A seed is 'id@host:port', or
// 'host:port' when the transport can ask the listener its id (Transport.seeds); a seed that
// refused this host's handshake (a wrong cluster secret) ends the attempt at once.

import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import type { HostId } from '../transport/items.js';
import type { SeedLookup, Transport } from '../transport/transport.js';
import { decodeAdminReply, encodeAdmin } from './admin.js';
import { accepted } from './cluster-calls.js';
import { CLUSTER_GROUP, type ClusterCommand } from './cluster-machine.js';
import type { Router } from './router.js';

/** Between rounds over every seed. */
const RETRY_MS = 200;
/** The longest one seed is given to answer. */
const SEED_TIMEOUT_MS = 3000;

export interface JoinParts {
  router: Router;
  transport: Pick<Transport, 'addPeer'>;
  /** What the transport that dials can look up of seeds (that of the one underneath the generation gate). */
  lookup: SeedLookup | undefined;
  scheduler: Scheduler;
}

/** Sends `command` (this host's activation) through the seeds in turn until one has it applied. */
export async function joinVia(parts: JoinParts, seeds: string[], command: ClusterCommand & { op: 'activateHost' }, timeoutMs: number): Promise<void> {
  const { router, scheduler } = parts;
  const deadline = scheduler.now() + timeoutMs;
  let lastError: unknown = new FlotillaError('UNAVAILABLE', 'no seed to join through');
  while (scheduler.now() < deadline) {
    for (const seed of seeds) {
      try {
        const seedId = await resolveSeed(parts, seed);
        checkNotRefused(parts.lookup, seedId);
        const remaining = Math.max(1, deadline - scheduler.now());
        const bytes = await router.call(CLUSTER_GROUP, 'admin', encodeAdmin({ op: 'join', command }), { timeoutMs: Math.min(remaining, SEED_TIMEOUT_MS), via: seedId });
        accepted(decodeAdminReply(bytes, 'cluster').reply);
        return;
      } catch (err) {
        lastError = err;
        if (err instanceof FlotillaError && (err.code === 'BAD_ARGUMENT' || err.code === 'TRANSPORT_AUTH')) throw err;
      }
    }
    await new Promise<void>((resolve) => scheduler.after(RETRY_MS, resolve));
  }
  throw lastError;
}

/** A seed that refused this host's handshake: a wrong cluster secret is not cured by retrying. */
function checkNotRefused(lookup: SeedLookup | undefined, seedId: HostId): void {
  const refusal = lookup?.authRefusal(seedId) ?? null;
  if (refusal !== null) throw new FlotillaError('TRANSPORT_AUTH', `host ${seedId} refused this host: ${refusal}`, { host: seedId });
}

/** A seed is 'id@host:port', or 'host:port' whose id the host's listener tells. */
async function resolveSeed({ transport, lookup }: JoinParts, seed: string): Promise<HostId> {
  const at = seed.indexOf('@');
  if (at > 0) {
    const id = seed.slice(0, at);
    transport.addPeer(id, seed.slice(at + 1));
    return id;
  }
  if (lookup === undefined) throw new FlotillaError('BAD_ARGUMENT', `seed ${seed}: give it as id@address`);
  const id = await lookup.identify(seed);
  transport.addPeer(id, seed);
  return id;
}
