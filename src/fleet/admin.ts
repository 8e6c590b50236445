// Fleet housekeeping requests between hosts ('admin' client requests, JSON payload). Each is
// answered by the host the router reaches: 'join' by any active host (it forwards the activation
// to the cluster group), 'prepare' by the host that is to hold a new replica, 'memberStatus' by the
// group's leader.

import { FlotillaError } from '../common/errors.js';
import type { ClusterCommand } from './cluster-machine.js';

export type AdminRequest =
  /** A host asks to be activated (forwarded as a cluster command by the receiving host). */
  | { op: 'join'; command: Extract<ClusterCommand, { op: 'activateHost' }> }
  /** Any cluster command, forwarded to the cluster group (used by hosts that hold no replica of it). */
  | { op: 'cluster'; command: ClusterCommand }
  /** A group's leader asks a host to create an empty replica before adding it as a learner. */
  | { op: 'prepare'; groupId: number; group: string; machine: string; member: string; term: number }
  /** A host asks a group's leader whether its replica is still a member. */
  | { op: 'memberStatus'; groupId: number; member: string }
  /** Is there a leader for the group that has committed in its term (answered by that leader)? */
  | { op: 'leaderCheck' };

export type AdminReply =
  | { op: 'prepare'; ok: true }
  | { op: 'prepare'; ok: false; tombstone: number }
  | { op: 'memberStatus'; member: boolean }
  /** `warnings`: what is wrong with the leader's replica (Host.replicaWarnings); hosts that predate it send none. */
  | { op: 'leaderCheck'; leader: string; warnings?: string[] }
  | { op: 'cluster'; reply: unknown };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeAdmin(value: AdminRequest | AdminReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeAdminRequest(bytes: Uint8Array): AdminRequest {
  const value = parseJson(bytes);
  const op = typeof value === 'object' && value !== null ? (value as { op?: unknown }).op : undefined;
  if (op !== 'join' && op !== 'cluster' && op !== 'prepare' && op !== 'memberStatus' && op !== 'leaderCheck') {
    throw new FlotillaError('BAD_ARGUMENT', `unknown admin request ${JSON.stringify(op)}`);
  }
  return value as AdminRequest;
}

export function decodeAdminReply<T extends AdminReply['op']>(bytes: Uint8Array, op: T): Extract<AdminReply, { op: T }> {
  const value = parseJson(bytes);
  if (typeof value !== 'object' || value === null || (value as { op?: unknown }).op !== op) {
    throw new FlotillaError('BAD_ARGUMENT', `expected an admin ${op} reply`);
  }
  return value as Extract<AdminReply, { op: T }>;
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(bytes));
  } catch {
    throw new FlotillaError('BAD_ARGUMENT', 'admin payload is not JSON');
  }
}
