// The reconciler's decision: given what a group's leader knows (its membership, how far each
// member has replicated, which are reachable) and where placement wants the group, the ONE next
// membership step, or none, checked to keep each replica in one place of the membership. Pure,
// so every rule is unit-tested; reconcile-driver.ts runs it on each group this host leads, on metadata
// changes and on a periodic pass.
//
// Order of steps, each waiting for the previous one to commit (the core refuses a second change
// in flight): add a learner on every placed host that has no member, promote learners once they
// caught up, remove surplus voters (never below a reachable quorum), remove surplus learners, then
// hand leadership to the preferred host. A leader leaving its host hands leadership away first,
// and adds no member while a placed voter could take over; a learner that stopped answering long
// ago is removed before anything is added.

import { assert } from '../common/assert.js';
import { quorum } from '../raft/membership.js';
import type { Membership, NodeId } from '../raft/types.js';
import { hostOfMember } from './member-id.js';

export interface ReconcileInput {
  /** The leader's own member id. */
  self: NodeId;
  /** The leader's membership, with no change in flight. */
  membership: Membership;
  /** Replication progress per member: highest index known to be on it, and recent contact. */
  progress: ReadonlyMap<NodeId, { match: number; active: boolean }>;
  lastIndex: number;
  committed: number;
  /** Hosts that should hold a voter, in placement order: the first is the preferred leader. */
  voterHosts: readonly string[];
  /** Hosts that should hold a learner (the cluster group keeps one on every other active host). */
  learnerHosts: readonly string[];
  /** The leader's host is deactivating: leadership goes elsewhere before anything else. */
  leaving: boolean;
  /** Learners that stopped answering long ago (their replica may be gone): removed first. */
  stuck?: ReadonlySet<NodeId>;
}

export type ReconcileStep =
  | { kind: 'addLearner'; host: string }
  | { kind: 'promote'; member: NodeId }
  | { kind: 'remove'; member: NodeId }
  | { kind: 'transfer'; to: NodeId };

export function nextStep(input: ReconcileInput): ReconcileStep | null {
  const step = decide(input);
  if (step !== null) assertStepFits(input.membership, input.self, step);
  return step;
}

/**
 * A step keeps each replica in one place of the membership: a learner only on a host holding no
 * member, a promotion only of a learner, a removal only of a member, leadership only to another voter.
 */
function assertStepFits(membership: Membership, self: NodeId, step: ReconcileStep): void {
  const describe = (): string => `${JSON.stringify(step)} on voters ${membership.voters.join(',')} and learners ${membership.learners.join(',')}`;
  switch (step.kind) {
    case 'addLearner': {
      const hosts = [...membership.voters, ...membership.learners].map(hostOfMember);
      assert(!hosts.includes(step.host), () => `a reconcile step never puts a second member on a host: ${describe()}`);
      break;
    }
    case 'promote':
      assert(membership.learners.includes(step.member) && !membership.voters.includes(step.member), () => `a reconcile step promotes only a learner: ${describe()}`);
      break;
    case 'remove':
      assert(membership.learners.includes(step.member) || membership.voters.includes(step.member), () => `a reconcile step removes only a member: ${describe()}`);
      break;
    case 'transfer':
      assert(step.to !== self && membership.voters.includes(step.to), () => `a reconcile step hands leadership only to another voter: ${describe()}`);
      break;
  }
}

function decide(input: ReconcileInput): ReconcileStep | null {
  const { membership, progress, self } = input;
  if (input.voterHosts.length === 0) return null; // nowhere to go: leave the group as it is
  const voters = new Set(membership.voters);
  const wantedVoterHosts = new Set(input.voterHosts);
  const wantedLearnerHosts = new Set(input.learnerHosts.filter((h) => !wantedVoterHosts.has(h)));
  const caughtUp = (m: NodeId) => (progress.get(m)?.match ?? 0) >= input.committed;
  const reachable = (m: NodeId) => m === self || progress.get(m)?.active === true;

  // The member each host holds (a voter before a learner if a host somehow holds two).
  const byHost = new Map<string, NodeId>();
  for (const m of [...membership.voters, ...membership.learners]) {
    const host = hostOfMember(m);
    if (!byHost.has(host)) byHost.set(host, m);
  }

  // A leaving leader with another voter on a placed host hands the group over once that voter is
  // caught up and answers, and leaves adding members to its successor: a learner it added would be
  // refused while the handover runs (or removed by a successor that never heard of it), and every
  // try costs the new host a replica to write. Without such a voter it moves the group itself.
  let successorPlaced = false;
  if (input.leaving) {
    const target = bestTransferTarget(input, voters, byHost, caughtUp);
    if (target !== null) return { kind: 'transfer', to: target };
    successorPlaced = input.voterHosts.some((h) => h !== hostOfMember(self) && voters.has(byHost.get(h) ?? ''));
  }

  for (const m of membership.learners) {
    if (input.stuck?.has(m) === true) return { kind: 'remove', member: m };
  }
  for (const host of [...input.voterHosts, ...wantedLearnerHosts]) {
    if (!byHost.has(host) && !successorPlaced) return { kind: 'addLearner', host };
  }
  for (const host of input.voterHosts) {
    const m = byHost.get(host)!;
    if (!voters.has(m) && caughtUp(m) && reachable(m)) return { kind: 'promote', member: m };
  }
  // Surplus voters go only once every placed host votes, so the group never shrinks before it grew.
  if (input.voterHosts.every((h) => voters.has(byHost.get(h)!))) {
    const surplus = membership.voters.filter((m) => !wantedVoterHosts.has(hostOfMember(m)) || byHost.get(hostOfMember(m)) !== m);
    // Unreachable ones first: removing them can only help availability.
    surplus.sort((a, b) => Number(reachable(a)) - Number(reachable(b)));
    for (const m of surplus) {
      if (m === self) {
        const target = bestTransferTarget(input, voters, byHost, caughtUp);
        if (target !== null) return { kind: 'transfer', to: target };
        continue;
      }
      const remaining = membership.voters.filter((v) => v !== m);
      const reachableAfter = remaining.filter(reachable).length;
      if (reachableAfter >= quorum({ voters: remaining, learners: [] })) return { kind: 'remove', member: m };
    }
  }
  for (const m of membership.learners) {
    const host = hostOfMember(m);
    const wanted = (wantedVoterHosts.has(host) || wantedLearnerHosts.has(host)) && byHost.get(host) === m;
    if (!wanted) return { kind: 'remove', member: m };
  }
  // Everything is in place: the preferred host should lead.
  const preferred = byHost.get(input.voterHosts[0]!);
  if (
    preferred !== undefined &&
    preferred !== self &&
    voters.has(preferred) &&
    reachable(preferred) &&
    (progress.get(preferred)?.match ?? 0) >= input.lastIndex
  ) {
    return { kind: 'transfer', to: preferred };
  }
  return null;
}

/**
 * A caught-up, reachable voter on a placed host, in placement order. Only placed hosts: handing
 * leadership to a host that is leaving too would only bounce it back (two draining hosts of one
 * group would pass it between them forever, and the learners meant to replace them never promoted).
 */
function bestTransferTarget(
  input: ReconcileInput,
  voters: ReadonlySet<NodeId>,
  byHost: ReadonlyMap<string, NodeId>,
  caughtUp: (m: NodeId) => boolean,
): NodeId | null {
  const selfHost = hostOfMember(input.self);
  const ordered = input.voterHosts.map((h) => byHost.get(h)).filter((m): m is NodeId => m !== undefined);
  for (const m of ordered) {
    if (hostOfMember(m) === selfHost || !voters.has(m)) continue;
    if (caughtUp(m) && input.progress.get(m)?.active === true) return m;
  }
  return null;
}
