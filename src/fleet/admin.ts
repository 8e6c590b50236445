// Fleet housekeeping requests between hosts ('admin' client requests, JSON payload). Each is
// answered by the host the router reaches: 'join' by any active host (it forwards the activation
// to the cluster group), 'prepare' by the host that is to hold a new replica, 'memberStatus' by the
// group's leader. Each is checked field by field as it arrives: a malformed request is BAD_ARGUMENT
// (to whoever sent it), a malformed reply TRANSPORT_PROTOCOL (the answering host speaks another
// protocol).

import { Decode } from '../common/decode.js';
import { clusterCommand, clusterReply, type ClusterCommand, type ClusterReply } from './cluster-protocol.js';

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
  /** `voters`, `learners`: the group's members' host ids as the leader has them; hosts that predate them send none. */
  | { op: 'leaderCheck'; leader: string; warnings?: string[]; voters?: string[]; learners?: string[] }
  | { op: 'cluster'; reply: ClusterReply };

const encoder = new TextEncoder();

export function encodeAdmin(value: AdminRequest | AdminReply): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

const ADMIN_OPS = ['join', 'cluster', 'prepare', 'memberStatus', 'leaderCheck'] as const;

export function decodeAdminRequest(bytes: Uint8Array): AdminRequest {
  const d = new Decode('BAD_ARGUMENT', 'an admin request');
  const o = d.object(d.json(bytes), '');
  switch (d.oneOf(o.op, 'op', ADMIN_OPS)) {
    case 'join': {
      const command = clusterCommand(d, o.command, 'command');
      if (command.op !== 'activateHost') d.fail('command.op', 'activateHost', command.op);
      break;
    }
    case 'cluster':
      clusterCommand(d, o.command, 'command');
      break;
    case 'prepare':
      for (const key of ['group', 'machine', 'member'] as const) d.string(o[key], key);
      d.int(o.groupId, 'groupId');
      d.int(o.term, 'term');
      break;
    case 'memberStatus':
      d.int(o.groupId, 'groupId');
      d.string(o.member, 'member');
      break;
    case 'leaderCheck':
      break;
  }
  return o as AdminRequest;
}

export function decodeAdminReply<T extends AdminReply['op']>(bytes: Uint8Array, op: T): Extract<AdminReply, { op: T }> {
  const d = new Decode('TRANSPORT_PROTOCOL', `an admin ${op} reply`);
  const o = d.object(d.json(bytes), '');
  d.oneOf(o.op, 'op', [op]);
  switch (op as AdminReply['op']) {
    case 'prepare':
      if (!d.boolean(o.ok, 'ok')) d.int(o.tombstone, 'tombstone');
      break;
    case 'memberStatus':
      d.boolean(o.member, 'member');
      break;
    case 'leaderCheck':
      d.string(o.leader, 'leader');
      for (const key of ['warnings', 'voters', 'learners'] as const) d.optional(o[key], key, (v, path) => d.array(v, path, d.string));
      break;
    case 'cluster':
      clusterReply(d, o.reply, 'reply');
      break;
  }
  return o as Extract<AdminReply, { op: T }>;
}
