// Group configurations and single-server changes.
//
// A configuration entry carries the complete new Membership, not a delta: any member can then
// learn the configuration from the last configuration entry of its log (or its snapshot) alone,
// and a member added later needs no out-of-band bootstrap. A configuration takes effect as soon
// as it is appended (Raft thesis 4.1), and a leader appends at most one at a time.

import { FlotillaError } from '../common/errors.js';
import type { Membership, NodeId } from './types.js';

export type MembershipChange =
  | { type: 'addLearner'; node: NodeId }
  | { type: 'promote'; node: NodeId }
  | { type: 'addVoter'; node: NodeId }
  | { type: 'remove'; node: NodeId };

export const EMPTY_MEMBERSHIP: Membership = { voters: [], learners: [] };

export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id);
}

export function isMember(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.learners.includes(id);
}

export function allMembers(m: Membership): NodeId[] {
  return [...m.voters, ...m.learners];
}

/** Number of votes that make a majority of the voters. */
export function quorum(m: Membership): number {
  return Math.floor(m.voters.length / 2) + 1;
}

/** The configuration after one single-server change; throws BAD_ARGUMENT if it does not apply. */
export function applyChange(m: Membership, change: MembershipChange): Membership {
  const { node } = change;
  if (node.length === 0) throw new FlotillaError('BAD_ARGUMENT', 'membership change names no node');
  const voters = m.voters.filter((v) => v !== node);
  const learners = m.learners.filter((l) => l !== node);
  switch (change.type) {
    case 'addLearner':
      if (isMember(m, node)) throw new FlotillaError('BAD_ARGUMENT', `${node} is already a member`);
      return { voters: [...m.voters], learners: [...learners, node] };
    case 'promote':
      if (!m.learners.includes(node)) throw new FlotillaError('BAD_ARGUMENT', `${node} is not a learner`);
      return { voters: [...voters, node], learners };
    case 'addVoter':
      if (isVoter(m, node)) throw new FlotillaError('BAD_ARGUMENT', `${node} is already a voter`);
      return { voters: [...voters, node], learners };
    case 'remove':
      if (!isMember(m, node)) throw new FlotillaError('BAD_ARGUMENT', `${node} is not a member`);
      if (voters.length === 0) throw new FlotillaError('BAD_ARGUMENT', `removing ${node} would leave no voter`);
      return { voters, learners };
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Configuration entries are rare, so plain JSON is fine here.
export function encodeMembership(m: Membership): Uint8Array {
  return encoder.encode(JSON.stringify({ v: m.voters, l: m.learners }));
}

export function decodeMembership(data: Uint8Array): Membership {
  const parsed: unknown = JSON.parse(decoder.decode(data));
  if (typeof parsed !== 'object' || parsed === null) throw new Error('membership: not an object');
  const { v, l } = parsed as { v?: unknown; l?: unknown };
  if (!isStringArray(v) || !isStringArray(l)) throw new Error('membership: bad voters or learners');
  return { voters: v, learners: l };
}

function isStringArray(x: unknown): x is string[] {
  return Array.isArray(x) && x.every((s) => typeof s === 'string');
}

export function sameMembership(a: Membership, b: Membership): boolean {
  const key = (m: Membership) => JSON.stringify([[...m.voters].sort(), [...m.learners].sort()]);
  return key(a) === key(b);
}
