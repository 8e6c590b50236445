// Detecting a data directory older than the fleet has seen (a backup or VM snapshot put back).
//
// The danger is Raft's amnesia: a replica that forgets entries it acknowledged, or a vote it cast,
// can help elect a leader without an acknowledged write, or vote twice in a term (issue 14,
// finding 5: a copy of h2 put back after W1 was acknowledged by h1 and h2; h2 and h3 elected a
// leader without W1, losing all of it). The fleet must notice before such a replica votes or
// acknowledges anything.
//
// The generation. Every data directory holds a counter, its generation (0 when it has none: an
// older directory). A host process advances it by one every GENERATION_ADVANCE_MS with a synced
// write (generation-keeper.ts), and never tells anyone a value before that value is durable. Every
// ping and pong presents (incarnation, process, floor, current): the directory's identity, a random
// id of this process, the generation this process found on disk when it started (its floor), and
// the current durable one. So a legitimate restart's floor is at least every value any earlier
// process of that directory ever presented, while a copy taken at generation C and put back
// presents floor C (and a copy taken while the host ran is older than what it presented since).
//
// Who checks: the peers. The restored host's own copy of everything, its cluster replica included,
// is as old as the copy, and the cluster group may have no quorum (in the finding h1 is dead, h2
// restored, h3 lagging): only the other hosts remember something newer, so nothing is recorded in
// the cluster group either. Each host keeps, per peer, the highest generation it heard from it and
// from which process (PeerRecord, written with its own next advance, so at most one period late).
// When a peer presents a process it has not seen, its floor must reach the recorded generation;
// otherwise its directory is stale: everything from it is dropped (no vote, no append, no request
// reaches this host's groups) and it gets a stale verdict. Items from a peer with a record are held
// until a ping or pong of it is judged on the link (generation-gate.ts), so nothing slips in first.
//
// Refused: the stale host takes nothing in any more (no votes, appends or requests reach its
// replicas), refuses every call (no reads, no commands) with STORAGE_STALE, writes a mark so that
// every later Host.start fails at once with STORAGE_STALE, and stops; activate() fails with it.
// activate() resolves only once some peer accepted this process (join.ts): a copy's own cluster
// replica may list it active by itself (it was the only voter then), which proves nothing.
// Before that moment its replicas get no ticks (host loop mayTick: dataDirectoryJudged), so none
// campaigns, not even a group's only voter, which needs no peer to win (fleet sim seed 5024: a
// copy elected one and could have acknowledged commands no one else would see); a 'local' read on
// it sees its old state, as on any lagging replica. The way out is a new host id on
// an empty data directory (the fleet re-replicates onto it); acceptStaleDataDir, for salvaging data
// no other replica holds, adopts the generation the peers recorded instead, losing the safety.
//
// What it catches: a copy put back while a host it will talk to has recorded a later generation
// of it, that is, heard it about GENERATION_ADVANCE_MS + a ping + a persist (about 2.5 s) after
// the copy was taken, and kept its data directory. No quorum can form between the copy and such
// hosts. The finding's sequence is caught by h3 (and by h1): both heard h2 after the copy.
// What it cannot catch:
// - every copy put back together (all hosts restored to one moment): a consistent rollback of the
//   whole fleet, which loses what came after but breaks nothing;
// - a copy put back when no host it reaches heard it after the copy: a copy taken just before the
//   host died, or every host that heard it since is restored or wiped too, or only hosts that never
//   heard it at all (joined after it died) are up: nothing newer survives where it looks;
// - a copy accepted by hosts that had not heard it since before the copy: together they can lose
//   what the others acknowledged. So that such a copy cannot climb past the others' records behind
//   their backs by running and restarting, a process advances only once at least half of its
//   known peers accepted it (generation-keeper.ts).
// A different data directory under a known host id (a wiped one) has another incarnation: it is
// not judged here; the cluster group refuses it (cluster-machine.ts activateHost) and it holds no
// replica that could vote.

import { FlotillaError } from '../common/errors.js';
import type { HostId } from '../transport/items.js';

/** How often a host process advances its data directory's generation (a synced write). */
export const GENERATION_ADVANCE_MS = 1000;

/** What a host presents of its data directory in every ping. */
export interface DataGeneration {
  /** The data directory's identity (the incarnation of its `host` record). */
  incarnation: string;
  /** Random per process (and per rebase): a new one is judged by its floor. */
  process: number;
  /** The generation this process found in the directory when it started. */
  floor: number;
  /** The generation the directory holds durably now. */
  current: number;
}

/** What a host remembers of a peer's data directory. */
export interface PeerRecord {
  incarnation: string;
  /** The process it last accepted. */
  process: number;
  /** The highest generation it heard from that directory. */
  generation: number;
}

/** The answer to a ping carrying a generation, in the pong. */
export interface GenerationVerdict {
  stale: boolean;
  /** The generation of the pinger's directory the answering host has recorded (0: none). */
  recorded: number;
  /**
   * The process judged. A verdict can outlive it (a late ping of a process that died, judged once
   * its host's next process is connected): that next process ignores it.
   */
  process: number;
}

export interface Judgement {
  verdict: GenerationVerdict;
  /** The record to keep from now on (unchanged, new, or advanced). */
  record: PeerRecord | undefined;
}

/** Judges a peer's presented generation against what this host recorded of it. Pure. */
export function judge(record: PeerRecord | undefined, presented: DataGeneration): Judgement {
  if (presented.floor > presented.current) throw new FlotillaError('BAD_ARGUMENT', `generation floor ${presented.floor} above current ${presented.current}`);
  const fresh: PeerRecord = { incarnation: presented.incarnation, process: presented.process, generation: presented.current };
  const verdict = (stale: boolean, recorded: number): GenerationVerdict => ({ stale, recorded, process: presented.process });
  if (record === undefined) return { verdict: verdict(false, 0), record: fresh };
  // Another data directory under that host id: the cluster group refuses it by its incarnation.
  if (record.incarnation !== presented.incarnation) return { verdict: verdict(false, 0), record };
  if (record.process === presented.process) {
    const generation = Math.max(record.generation, presented.current);
    return { verdict: verdict(false, record.generation), record: generation === record.generation ? record : { ...record, generation } };
  }
  if (presented.floor < record.generation) return { verdict: verdict(true, record.generation), record };
  return { verdict: verdict(false, record.generation), record: { ...fresh, generation: Math.max(record.generation, presented.current) } };
}

/** The error of a host whose data directory `peer` found stale. */
export function staleDataDirError(host: HostId, peer: HostId, recorded: number, found: number): FlotillaError {
  return new FlotillaError(
    'STORAGE_STALE',
    `host ${host}: this data directory is older than the fleet has seen: host ${peer} heard it at generation ${recorded}, and it holds ${found} ` +
      '(put back from a backup or a VM snapshot?). Serving from it could lose acknowledged writes, so this host serves nothing. ' +
      'Way out: start this host under a new host id on an empty data directory and let the fleet re-replicate; or, only to salvage ' +
      'data no other replica has, restart it with acceptStaleDataDir (--accept-stale-data-dir), which may lose acknowledged writes',
    { host, peer, recorded, found },
  );
}
