// Fleet operations a client asks of one host, beyond command/query: the fleet's view (hosts by
// zone, groups with placement and leader), adding a group (which needs the host to check the
// machine is registered, something the cluster group cannot), and draining a host. They travel as
// client requests to the reserved group name OPS_GROUP with a JSON payload; every host answers
// them (ops-service.ts); the client (client/client.ts) asks them.

import { FlotillaError } from '../common/errors.js';
import type { HostState } from './cluster-machine.js';

/** Not a valid user group name (names.ts forbids '$'), so it never collides with one. */
export const OPS_GROUP = '$ops';

export type OpsRequest =
  | { op: 'fleet' }
  | { op: 'addGroup'; name: string; machine: string; replicas?: number; timeoutMs: number }
  | { op: 'deactivate'; timeoutMs: number };

export interface FleetHost {
  id: string;
  address: string;
  state: HostState;
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
}

export type OpsReply = { op: 'fleet'; fleet: FleetView } | { op: 'addGroup' } | { op: 'deactivate' };

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
