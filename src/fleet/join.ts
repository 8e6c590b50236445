// How a host joins the fleet (Host.activate): the first host, with no seeds, founds it (its
// cluster replica is the fleet's first); one with a cluster replica that has the metadata asks
// the cluster group itself; any other sends its activation through a seed (a host of the fleet),
// which forwards it to the cluster group. A seed is 'id@host:port', or 'host:port' when the
// transport can ask the listener its id (Transport.seeds); a seed that refused this host's
// handshake (a wrong cluster secret) ends the attempt at once. Done once the metadata has the
// host active, it holds a cluster replica, and a peer accepted its data directory (if the fleet
// has another host: see dataDirectoryJudged()). A host activated again after a deactivate rejoins the same
// way: in any zone once it is inactive (it holds nothing), only in its own zone while it still
// drains, and then the drain is cancelled first (JoinParts.cancelDrain).

import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import type { Random } from '../raft/random.js';
import type { HostId } from '../transport/items.js';
import type { SeedLookup, Transport } from '../transport/transport.js';
import { decodeAdminReply, encodeAdmin } from './admin.js';
import { accepted, type ClusterCalls } from './cluster-calls.js';
import { CLUSTER_GROUP, CLUSTER_GROUP_ID, type ClusterCommand } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { GenerationKeeper } from './generation-keeper.js';
import { memberId } from './member-id.js';
import { validateName } from './names.js';
import type { Router } from './router.js';

/** Between rounds over every seed. */
const RETRY_MS = 200;
/** The longest one seed is given to answer. */
const SEED_TIMEOUT_MS = 3000;

export interface SeedJoinParts {
  router: Router;
  transport: Pick<Transport, 'addPeer'>;
  /** What the transport that dials can look up of seeds (that of the one underneath the generation gate). */
  lookup: SeedLookup | undefined;
  scheduler: Scheduler;
}

export interface JoinParts extends SeedJoinParts {
  view: FleetView;
  /** The address other hosts dial. */
  address: string;
  /** The seeds the host was given (HostOptions.join). */
  seeds: readonly string[];
  /** The user machines this host runs: registered in its record at every activation. */
  machines: readonly string[];
  /** Names this activation (ClusterCommand activateHost). */
  random: Random;
  cluster: ClusterCalls;
  /** Whether a peer accepted this process's data directory yet. */
  generation: Pick<GenerationKeeper, 'acceptedByAPeer'>;
  /** Cancels a deactivate() running on this host: resolves once it has ended (undefined: none runs). */
  cancelDrain: () => Promise<void> | undefined;
  /** Throws if the host is stopped (or was refused as stale). */
  checkNotStopped: () => void;
  waitFor: (what: string, timeoutMs: number, condition: () => boolean) => Promise<void>;
}

/** Joins the fleet in `zone`; resolves once this host is active (the view's state too). */
export async function joinFleet(parts: JoinParts, zone: string, timeoutMs: number): Promise<void> {
  validateName('zone', zone);
  parts.checkNotStopped();
  const { view } = parts;
  const id = view.hostId;
  // Locally active is not enough: a deactivate that timed out may still have been applied.
  const recorded = view.metadata?.hosts[id];
  if (view.state === 'active' && recorded?.state === 'active') {
    if (recorded.zone !== zone) throw new FlotillaError('BAD_ARGUMENT', `host ${id} is active in zone ${recorded.zone}, not ${zone}: deactivate it first to move it`, { zone: recorded.zone });
    return;
  }
  // Draining: its members are still placed by its zone, so only that zone takes it back at once.
  // (A drained host's copy of the metadata may still say deactivating: its own state is inactive.)
  if (view.state === 'deactivating' && recorded !== undefined && recorded.zone !== zone) {
    throw new FlotillaError('BAD_ARGUMENT', `host ${id} is draining from zone ${recorded.zone}: activate it again in ${recorded.zone}, or in ${zone} once it is inactive`, { zone: recorded.zone });
  }
  const cancelling = parts.cancelDrain();
  if (cancelling !== undefined) await cancelling;
  // No drain goes on: it rejoins as a host restarted mid-drain does (a draining host takes no new
  // replica, not even the cluster replica this waits for).
  if (view.state === 'deactivating') view.state = 'inactive';
  const activation = Math.floor(parts.random() * 2 ** 48).toString(36);
  const command: ClusterCommand & { op: 'activateHost' } = { op: 'activateHost', id, zone, address: parts.address, incarnation: view.incarnation, activation, machines: [...parts.machines].sort() };
  // A host that was in a fleet before (deactivated, then activated again) rejoins through the
  // hosts it knew rather than founding a second fleet.
  const known = [...view.knownPeers].map(([peer, address]) => `${peer}@${address}`);
  const seeds = [...parts.seeds, ...known];
  if (view.members.get(CLUSTER_GROUP_ID) === undefined && seeds.length === 0) {
    if (view.members.tombstone(CLUSTER_GROUP_ID) > 0) {
      throw new FlotillaError('BAD_ARGUMENT', `host ${id} left a fleet before: give it 'join' addresses to rejoin (it will not found a second fleet)`);
    }
    const founder = memberId(id, 1);
    await view.members.create({ groupId: CLUSTER_GROUP_ID, group: CLUSTER_GROUP, machine: CLUSTER_GROUP, member: founder }, { voters: [founder], learners: [] });
  }
  // A cluster replica that never received the metadata (added, then the host stopped) is no way in.
  const hasCluster = view.members.get(CLUSTER_GROUP_ID) !== undefined;
  if (hasCluster && (view.metadata !== null || seeds.length === 0)) await parts.cluster.command(command, timeoutMs);
  else await joinVia(parts, seeds, command, timeoutMs);
  const deadline = parts.scheduler.now() + timeoutMs;
  await parts.waitFor('this host to be active', timeoutMs, () => {
    const me = view.metadata?.hosts[id];
    return me !== undefined && me.state === 'active' && me.incarnation === view.incarnation && view.members.get(CLUSTER_GROUP_ID) !== undefined;
  });
  await parts.waitFor('a peer to accept this data directory', Math.max(1, deadline - parts.scheduler.now()), () => dataDirectoryJudged(parts.view, parts.generation));
  view.state = 'active';
}

/**
 * Whether a peer has accepted this process's data directory (fleet/generation.ts), or the fleet
 * has no other host (none but inactive ones) to ask. Active in the metadata is not enough: a
 * directory put back from a copy may hold a cluster group whose only voter is this host, which
 * lists it active by itself; only a peer can tell the copy is stale (the activation then fails
 * with STORAGE_STALE), and one no peer can reach is not serving as part of the fleet anyway.
 * Before the metadata is read (a restart), the peers saved with it stand in for it. The host
 * loop hands its replicas no ticks until this holds (Host), so a copy's replicas never campaign.
 */
export function dataDirectoryJudged(view: Pick<FleetView, 'metadata' | 'hostId' | 'knownPeers'>, generation: Pick<GenerationKeeper, 'acceptedByAPeer'>): boolean {
  if (generation.acceptedByAPeer()) return true;
  const hosts = view.metadata?.hosts;
  if (hosts === undefined) return view.knownPeers.size === 0;
  return !Object.values(hosts).some((h) => h.id !== view.hostId && h.state !== 'inactive');
}

/** Sends `command` (this host's activation) through the seeds in turn until one has it applied. */
async function joinVia(parts: SeedJoinParts, seeds: string[], command: ClusterCommand & { op: 'activateHost' }, timeoutMs: number): Promise<void> {
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
async function resolveSeed({ transport, lookup }: SeedJoinParts, seed: string): Promise<HostId> {
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
