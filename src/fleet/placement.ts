// Placement: which hosts should hold a group's replicas, and which of them should lead.
//
// Rendezvous (highest-random-weight) hashing made zone-aware. Every (group, host) pair gets a
// pseudo-random score; a group prefers hosts with higher scores. Because a host's score for a
// group does not depend on which other hosts exist, adding or removing a host only moves the
// groups for which that host is (or was) among the winners: no global reshuffle, no state.
//
// Zone spread: hosts are ranked by score within their zone, and the placement takes the best host
// of every zone before the second-best of any zone, so replicas spread over as many zones as
// possible. Zones are visited in the order of their best host's score, which makes the overall
// best-scoring host the first entry, the preferred leader; leaders therefore spread evenly over
// all hosts.

import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import { murmur3Utf8 } from './murmur3.js';

export interface HostInfo {
  readonly id: string;
  readonly zone: string;
}

export interface GroupSpec {
  readonly name: string;
  readonly replicas: number;
}

/** A set of groups and the active hosts they are placed on. */
export interface FleetLayout {
  readonly groups: readonly GroupSpec[];
  readonly hosts: readonly HostInfo[];
}

export interface PlacementChange {
  readonly group: string;
  /** Placement in the `before` layout (empty if the group did not exist there). */
  readonly before: string[];
  /** Placement in the `after` layout (empty if the group does not exist there). */
  readonly after: string[];
  /** Hosts that gain a member of the group, sorted. */
  readonly added: string[];
  /** Hosts that lose their member of the group, sorted. */
  readonly removed: string[];
}

interface Scored {
  readonly id: string;
  readonly score: number;
}

/**
 * Score of a host for a group: murmur3 (seed 0) of the UTF-8 bytes of `group NUL hostId`.
 * The NUL cannot occur in a valid name (see names.ts), so distinct pairs hash distinct inputs.
 */
export function placementScore(groupName: string, hostId: string): number {
  return murmur3Utf8(`${groupName}\u0000${hostId}`);
}

/**
 * Ordered host ids for a group's `replicas` members (all hosts if there are fewer); the first is
 * the preferred leader. Pure and deterministic: the result depends on the set of hosts, not on
 * the order they are given in. Names are assumed valid (validate them with names.ts on entry).
 */
export function place(groupName: string, replicas: number, hosts: readonly HostInfo[]): string[] {
  if (!Number.isSafeInteger(replicas) || replicas < 1) {
    throw new FlotillaError('BAD_ARGUMENT', `replicas must be a positive integer, got ${replicas}`, {
      group: groupName,
      replicas,
    });
  }

  const zones = new Map<string, Scored[]>();
  const seen = new Set<string>();
  for (const host of hosts) {
    // A duplicated id would make the result depend on input order, so refuse it.
    if (seen.has(host.id)) {
      throw new FlotillaError('BAD_ARGUMENT', `host id ${JSON.stringify(host.id)} is listed twice`, {
        host: host.id,
      });
    }
    seen.add(host.id);
    let members = zones.get(host.zone);
    if (members === undefined) {
      members = [];
      zones.set(host.zone, members);
    }
    members.push({ id: host.id, score: placementScore(groupName, host.id) });
  }

  // Every zone is non-empty, so ranked[0] exists; the host-id tie-break makes the order total.
  const ranked = [...zones.values()].map((members) => members.sort(byScoreThenId));
  ranked.sort((a, b) => byScoreThenId(a[0]!, b[0]!));

  const wanted = Math.min(replicas, hosts.length);
  const placement: string[] = [];
  for (let rank = 0; placement.length < wanted; rank++) {
    for (const zone of ranked) {
      const host = zone[rank];
      if (host === undefined) continue;
      placement.push(host.id);
      if (placement.length === wanted) break;
    }
  }
  assertPlacement(groupName, placement, wanted, seen);
  return placement;
}

/** A placement is `wanted` distinct hosts, each one of those given. */
function assertPlacement(groupName: string, placement: readonly string[], wanted: number, hosts: ReadonlySet<string>): void {
  assert(placement.length === wanted, () => `a placement holds the replicas asked, or every host: group ${groupName} got ${placement.length} of ${wanted}`);
  assert(new Set(placement).size === placement.length, () => `a placement names each host once: group ${groupName} got ${placement.join(', ')}`);
  assert(placement.every((h) => hosts.has(h)), () => `a placement names only the hosts given: group ${groupName} got ${placement.join(', ')}`);
}

/**
 * The groups whose member set differs between two layouts (a changed host list, replica count,
 * or a group added or dropped), sorted by group name. A change of order alone, such as a new
 * preferred leader over the same members, is not reported.
 */
export function placementChanges(before: FleetLayout, after: FleetLayout): PlacementChange[] {
  const placements = (layout: FleetLayout): Map<string, string[]> =>
    new Map(layout.groups.map((g) => [g.name, place(g.name, g.replicas, layout.hosts)]));
  const old = placements(before);
  const now = placements(after);

  const changes: PlacementChange[] = [];
  const names = [...new Set([...old.keys(), ...now.keys()])].sort();
  for (const group of names) {
    const was = old.get(group) ?? [];
    const is = now.get(group) ?? [];
    const added = is.filter((id) => !was.includes(id)).sort();
    const removed = was.filter((id) => !is.includes(id)).sort();
    if (added.length > 0 || removed.length > 0) {
      changes.push({ group, before: was, after: is, added, removed });
    }
  }
  return changes;
}

function byScoreThenId(a: Scored, b: Scored): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
