// Raft member ids in a fleet: `${hostId}~${n}`. A host id alone would be reused when a group
// leaves a host and later comes back, and a replica whose data was deleted must never answer under
// an id it once voted with (the simulation found exactly that double vote). So each replica a host
// ever holds for a group gets its own id: `n` is the adding leader's last log index + 1, above any
// id the host refused before (see the tombstones in local-members.ts). Founding members are `${hostId}~1`.
// Host ids cannot contain '~' (names.ts), so the host part is everything before the last '~'.

import type { MemberNaming } from '../loop/raft-wiring.js';
import type { NodeId } from '../raft/types.js';
import { MAX_NAME_LENGTH } from './names.js';

/** The longest member id: a host id of MAX_NAME_LENGTH, '~', and a serial below 2^53 (16 digits); all ASCII. */
export const MAX_MEMBER_ID_BYTES = MAX_NAME_LENGTH + 1 + String(Number.MAX_SAFE_INTEGER).length;

export function memberId(hostId: string, n: number): NodeId {
  return `${hostId}~${n}`;
}

export function hostOfMember(id: NodeId): string {
  const at = id.lastIndexOf('~');
  return at < 0 ? id : id.slice(0, at);
}

export function memberSerial(id: NodeId): number {
  const at = id.lastIndexOf('~');
  return at < 0 ? 0 : Number(id.slice(at + 1));
}

/** Fleet member ids for the Raft wiring's coalesced heartbeats: (host, serial) round-trips. */
export const FLEET_MEMBERS: MemberNaming = {
  hostOf: hostOfMember,
  serialOf(id) {
    const serial = memberSerial(id);
    return Number.isInteger(serial) && serial >= 0 && serial < 2 ** 32 && memberId(hostOfMember(id), serial) === id ? serial : null;
  },
  member: memberId,
};
