// How Raft member ids relate to hosts, and a memory of that relation. A coalesced heartbeat or a
// raft pack names each member by its host (the frame's sender or receiver) and a serial on that
// host, so a member id must round-trip through (hostOf, serialOf) and member().
//
// Member ids, parsed and built once: the wiring names the members of every message it sends
// (host and serial of both ends) and of every one it receives (from host and serial), and a
// fleet's ids are strings to take apart and put together (fleet/member-id.ts), several string
// allocations a message. A host's member ids are few and long-lived (a few per group), so both
// directions are remembered, within a bound: past it the memory starts over.

import type { NodeId } from '../raft/types.js';
import type { HostId } from '../transport/items.js';

export interface MemberNaming {
  hostOf(member: NodeId): HostId;
  /** The member's serial on its host, or null when it has none (it is then sent unpacked). */
  serialOf(member: NodeId): number | null;
  member(host: HostId, serial: number): NodeId;
}

/** Member ids that are host ids (one member per host, as in tests and the loop simulation). */
export const IDENTITY_MEMBERS: MemberNaming = {
  hostOf: (member) => member,
  serialOf: () => 0,
  member: (host) => host,
};

/** Ids remembered in each direction at most (about 3 MB each at the longest ids). */
const MAX_CACHED_MEMBERS = 1 << 16;

export function cachedMembers(members: MemberNaming, maxEntries = MAX_CACHED_MEMBERS): MemberNaming {
  const parsed = new Map<NodeId, { host: HostId; serial: number | null }>();
  const built = new Map<HostId, Map<number, NodeId>>();
  let builtCount = 0;
  const parse = (id: NodeId): { host: HostId; serial: number | null } => {
    let p = parsed.get(id);
    if (p === undefined) {
      if (parsed.size >= maxEntries) parsed.clear();
      p = { host: members.hostOf(id), serial: members.serialOf(id) };
      parsed.set(id, p);
    }
    return p;
  };
  return {
    hostOf: (id) => parse(id).host,
    serialOf: (id) => parse(id).serial,
    member(host, serial) {
      let byHost = built.get(host);
      if (byHost === undefined) built.set(host, (byHost = new Map()));
      let id = byHost.get(serial);
      if (id === undefined) {
        if (builtCount >= maxEntries) {
          built.clear();
          built.set(host, byHost);
          byHost.clear();
          builtCount = 0;
        }
        id = members.member(host, serial);
        byHost.set(serial, id);
        builtCount++;
      }
      return id;
    },
  };
}
