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
//
// Machines: a group is placed only on the hosts that run its machine (each host registers the
// names it runs when it activates; a host whose record predates that is taken to run anything).
// Filtering before scoring keeps the scores, so a host gaining a machine only wins the groups it
// scores best for.

import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import { murmur3Utf8 } from './murmur3.js';

export interface HostInfo {
  readonly id: string;
  readonly zone: string;
  /** The user machines the host runs; absent: unknown (an older host), taken to run anything. */
  readonly machines?: readonly string[];
}

export interface GroupSpec {
  readonly name: string;
  readonly replicas: number;
  /** Its machine: placed only on hosts that run it (absent: on any host, as the cluster group). */
  readonly machine?: string;
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

/** Whether `host` can hold a replica of a group running `machine` (undefined: any host can). */
export function runs(host: HostInfo, machine: string | undefined): boolean {
  return machine === undefined || host.machines === undefined || host.machines.includes(machine);
}

/**
 * Ordered host ids for a group's `replicas` members (all hosts that run `machine` if there are
 * fewer); the first is the preferred leader. Pure and deterministic: the result depends on the
 * set of hosts, not on the order they are given in. Names are assumed valid (validate them with
 * names.ts on entry). Without `machine`, every host given is eligible.
 */
export function place(groupName: string, replicas: number, allHosts: readonly HostInfo[], machine?: string): string[] {
  const hosts = allHosts.filter((h) => runs(h, machine));
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
    new Map(layout.groups.map((g) => [g.name, place(g.name, g.replicas, layout.hosts, g.machine)]));
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

/** Why a new group cannot be placed in full: its machine runs on too few of the active hosts. */
export interface MachineShortfall {
  message: string;
  details: {
    machine: string;
    /** Hosts the group needs: its replicas, or every active host if there are fewer. */
    needed: number;
    /** The active hosts that run the machine (or whose machines are unknown). */
    hosts: string[];
    /** Each machine registered on an active host, with those hosts. */
    machines: Record<string, string[]>;
    /** Active hosts that registered no machines (older hosts): taken to run anything. */
    unknown: string[];
  };
}

/**
 * Null if `machine` runs on enough active hosts for a group of `replicas` (as many as the
 * replicas, or every active host when there are fewer: that shortage is not the machine's), else
 * what runs where, for a NO_SUCH_MACHINE refusal before the group is added.
 */
export function machineShortfall(machine: string, replicas: number, active: readonly HostInfo[]): MachineShortfall | null {
  const needed = Math.min(replicas, active.length);
  const hosts = active.filter((h) => runs(h, machine)).map((h) => h.id).sort();
  if (hosts.length >= needed && hosts.length > 0) return null;
  const machines: Record<string, string[]> = {};
  const unknown: string[] = [];
  for (const h of [...active].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))) {
    if (h.machines === undefined) unknown.push(h.id);
    for (const m of h.machines ?? []) (machines[m] ??= []).push(h.id);
  }
  const where = hosts.length === 0 ? 'no active host' : `${hosts.length} host${hosts.length === 1 ? '' : 's'} (${hosts.join(',')})`;
  const listed = Object.entries(machines).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([m, on]) => `${m} on ${on.join(',')}`);
  if (unknown.length > 0) listed.push(`unknown on ${unknown.join(',')}`);
  const message = `machine ${JSON.stringify(machine)} is registered on ${where}; group needs ${Math.max(needed, 1)}. Machines: ${listed.length === 0 ? 'none' : listed.join('; ')}`;
  return { message, details: { machine, needed: Math.max(needed, 1), hosts, machines, unknown } };
}

/**
 * A new group's machine must run on enough active hosts (its replicas, or every active host if
 * there are fewer): else NO_SUCH_MACHINE naming what runs where (the host checks its copy of the
 * metadata before it proposes; the cluster machine checks again when it applies the add). The
 * host asked need not run it. A name no active host registers is refused even if some host's
 * machines are unknown (an older host), unless the host asked runs it.
 */
export function checkMachineRuns(active: readonly HostInfo[], machine: string, replicas: number, runsHere: boolean): void {
  const short = machineShortfall(machine, replicas, active);
  if (short !== null) throw new FlotillaError('NO_SUCH_MACHINE', short.message, short.details);
  if (!runsHere && !active.some((h) => h.machines?.includes(machine) === true)) {
    throw new FlotillaError('NO_SUCH_MACHINE', `machine ${JSON.stringify(machine)} is registered on no active host`, { machine });
  }
}

function byScoreThenId(a: Scored, b: Scored): number {
  if (a.score !== b.score) return b.score - a.score;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
