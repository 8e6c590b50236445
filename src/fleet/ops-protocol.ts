// Fleet operations a client asks of one host, beyond command/query: the fleet's view (hosts by
// zone, groups with placement and leader), adding a group (the host checks enough active hosts run
// its machine before it proposes it, and says what runs where), draining a host, activating it
// again, and the host's own state (how many members a draining host still holds). They travel as
// client requests to the reserved group name OPS_GROUP with a JSON payload; every host answers
// them (ops-service.ts); the client (client/client.ts) asks them.

import { FlotillaError } from '../common/errors.js';
import type { HostState } from './cluster-machine.js';

/** Not a valid user group name (names.ts forbids '$'), so it never collides with one. */
export const OPS_GROUP = '$ops';

export type OpsRequest =
  | { op: 'fleet' }
  | { op: 'addGroup'; name: string; machine: string; replicas?: number; timeoutMs: number }
  | { op: 'deactivate'; timeoutMs: number }
  /** Activate the host asked (zone absent: the zone it was last active in). */
  | { op: 'activate'; zone?: string; timeoutMs: number }
  /** The host asked: its own state and how many members it holds. */
  | { op: 'local' };

export interface FleetHost {
  id: string;
  address: string;
  state: HostState;
  /**
   * Whether the answering host can reach it now: itself, or heard from within the failure
   * detector's suspicion window. Absent from hosts that predate it.
   */
  reachable?: boolean;
  /** The user machines it registered when it last activated, sorted. Absent: unknown (an older host). */
  machines?: string[];
}

export interface FleetGroup {
  name: string;
  id: number;
  machine: string;
  replicas: number;
  /** Where placement wants the group, preferred leader first. */
  placement: string[];
  /** The host leading it now, or null if it has no leader at the moment. */
  leader: string | null;
  /**
   * The voters and learners (host ids) as the group's leader reports them; null when no leader
   * answered (unknown). Absent from hosts that predate it.
   */
  voters?: string[] | null;
  learners?: string[] | null;
  /** The voters are not the placement's hosts (a move under way, or one that cannot go on). Absent when unknown. */
  offPlacement?: boolean;
}

export interface FleetView {
  /** The host that answered. */
  host: string;
  hosts: Record<string, FleetHost[]>;
  groups: FleetGroup[];
  /**
   * What is wrong with replicas, as the answering host and each group's leader see their own
   * (Host.replicaWarnings: degraded replicas, state mismatches). Absent from hosts that predate it.
   */
  warnings?: string[];
  /** The cluster group (the metadata): its leader (null: none answered) and voters. Absent from hosts that predate it. */
  cluster?: { leader: string | null; voters: string[] | null };
}

/**
 * What is wrong with the fleet, one line each, as `view` shows it: the cluster group or a group
 * without a leader, groups with fewer voters than replicas or off their placement, failed hosts
 * and hosts the answering host cannot reach. Fields an older host did not send are skipped.
 */
export function fleetFindings(view: FleetView): string[] {
  const out: string[] = [];
  if (view.cluster !== undefined && view.cluster.leader === null) out.push('the metadata cannot change: cluster group has no leader');
  for (const h of Object.values(view.hosts).flat()) {
    if (h.state === 'failed') out.push(`host ${h.id} is failed`);
    else if (h.reachable === false && h.state === 'active') out.push(`host ${h.id} is active in the metadata, unreachable from ${view.host}`);
    else if (h.reachable === false && h.state === 'deactivating') out.push(`host ${h.id} is deactivating, unreachable from ${view.host}`);
  }
  for (const g of view.groups) out.push(...groupFindings(g));
  return out;
}

/** What is wrong with one group of the view (none: an empty list). */
export function groupFindings(g: FleetGroup): string[] {
  const out: string[] = [];
  if (g.leader === null) out.push(`group ${g.name} has no leader`);
  if (Array.isArray(g.voters) && g.voters.length < g.replicas) out.push(`group ${g.name} has ${g.voters.length} voters of its ${g.replicas} replicas`);
  if (g.offPlacement === true) out.push(`group ${g.name} is off its placement: voters ${(g.voters ?? []).join(' ')}, placement ${g.placement.join(' ')}`);
  return out;
}

/**
 * The groups that deactivating `hostId` leaves with fewer active hosts than replicas (so fewer
 * voters than replicas until a host is activated), as `view` shows the fleet.
 */
export function groupsShortWithout(view: FleetView, hostId: string): Array<{ name: string; replicas: number; hosts: number }> {
  const left = Object.values(view.hosts).flat().filter((h) => h.state === 'active' && h.id !== hostId).length;
  return view.groups.filter((g) => g.replicas > left).map((g) => ({ name: g.name, replicas: g.replicas, hosts: left }));
}

export type OpsReply =
  | { op: 'fleet'; fleet: FleetView }
  | { op: 'addGroup' }
  | { op: 'deactivate' }
  | { op: 'activate'; zone: string }
  | { op: 'local'; host: string; state: string; members: number };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeOps(value: OpsRequest | OpsReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeOpsRequest(bytes: Uint8Array): OpsRequest {
  const value = parse(bytes);
  const op = (value as { op?: unknown }).op;
  const field = (key: string): unknown => (value as Record<string, unknown>)[key];
  const timeoutMs = field('timeoutMs');
  const badTimeout = !(typeof timeoutMs === 'number' && Number.isFinite(timeoutMs) && timeoutMs > 0);
  switch (op) {
    case 'fleet':
      return { op };
    case 'addGroup': {
      const [name, machine, replicas] = [field('name'), field('machine'), field('replicas')];
      if (typeof name !== 'string' || typeof machine !== 'string') throw new FlotillaError('BAD_ARGUMENT', 'addGroup needs a group name and a machine name');
      if (replicas !== undefined && typeof replicas !== 'number') throw new FlotillaError('BAD_ARGUMENT', 'addGroup replicas must be a number');
      if (badTimeout) throw new FlotillaError('BAD_ARGUMENT', 'addGroup needs a positive timeoutMs');
      return replicas === undefined ? { op, name, machine, timeoutMs: timeoutMs as number } : { op, name, machine, replicas, timeoutMs: timeoutMs as number };
    }
    case 'deactivate':
      if (badTimeout) throw new FlotillaError('BAD_ARGUMENT', 'deactivate needs a positive timeoutMs');
      return { op, timeoutMs: timeoutMs as number };
    case 'activate': {
      const zone = field('zone');
      if (zone !== undefined && typeof zone !== 'string') throw new FlotillaError('BAD_ARGUMENT', 'activate zone must be a string');
      if (badTimeout) throw new FlotillaError('BAD_ARGUMENT', 'activate needs a positive timeoutMs');
      return zone === undefined ? { op, timeoutMs: timeoutMs as number } : { op, zone, timeoutMs: timeoutMs as number };
    }
    case 'local':
      return { op };
    default:
      throw new FlotillaError('BAD_ARGUMENT', `unknown fleet operation ${JSON.stringify(op)}`);
  }
}

export function decodeOpsReply<T extends OpsReply['op']>(bytes: Uint8Array, op: T): Extract<OpsReply, { op: T }> {
  const value = parse(bytes);
  if ((value as { op?: unknown }).op !== op) throw new FlotillaError('BAD_ARGUMENT', `expected a ${op} reply`);
  return value as Extract<OpsReply, { op: T }>;
}

function parse(bytes: Uint8Array): object {
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch {
    throw new FlotillaError('BAD_ARGUMENT', 'fleet operation payload is not JSON');
  }
  if (typeof value !== 'object' || value === null) throw new FlotillaError('BAD_ARGUMENT', 'fleet operation payload is not an object');
  return value;
}
