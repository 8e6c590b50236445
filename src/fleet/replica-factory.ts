// How this host builds a replica of a group: the Raft config from the host's options and the
// transport's frame size, the group's machine and config, and the hooks that tie it to the host
// (its counters, its logger, state hash announcements, what it applies).

import type { Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import { Group, type GroupCounters, type Outcome, type StateHash } from '../group/group.js';
import type { StateMachine } from '../group/state-machine.js';
import { DEFAULT_RAFT_CONFIG } from '../raft/raft.js';
import { seededRandom, type Random } from '../raft/random.js';
import { CLUSTER_GROUP, CLUSTER_GROUP_ID, type GroupConfig } from './cluster-machine.js';
import type { FleetLimits } from './limits.js';
import type { MemberInfo, ReplicaFactory } from './local-members.js';
import type { LogStore } from '../storage/log-store.js';

/**
 * Ticks a follower waits without hearing its leader before it campaigns (randomized up to twice
 * this): 20 ticks of 50 ms, etcd's 1 s. Every busy group heartbeats each follower it has not sent
 * an append lately about every half of this (RaftConfig's skipping rules), and at 1,000 groups those
 * heartbeats were most of a host's Raft messages (4.3 heartbeats per command with 10 ticks and
 * heartbeats every 2). bench/cpu, 1,000 groups x 256 in flight, three runs each, alternating: 417
 * to 593 us of CPU per command with 10 and 2, 305 to 369 us with 20 and 4. It also leaves room for the
 * pauses of a loaded event loop (GC, a long turn): with 10 ticks and heartbeats every 4, a drain
 * under load ran into 6,651 elections (bench/README.md). The price: a busy group's dead leader
 * is replaced later (the short bench reproduction's kill -9 row, its groups still awake: p99
 * 1,046 ms, against 444 and 534 ms with 10 ticks and heartbeats every 2; quiesced groups fail over
 * on the failure detector's suspicion and stayed at 0.35-0.44 s in the full runs).
 */
export const DEFAULT_ELECTION_TICKS = 20;
/** Ticks between a leader's heartbeat rounds (followers it was in touch with lately skip some). */
export const DEFAULT_HEARTBEAT_TICKS = 4;
/**
 * Idle ticks before a group quiesces: 1.5 s, as when it was 3 election timeouts of 10 ticks. Not
 * tied to the election timeout (quiesced followers wait for the failure detector, not for it): a
 * group with a command every couple of seconds stays as cheap as it was.
 */
export const DEFAULT_QUIESCE_AFTER_TICKS = 30;

export interface ReplicaTuning {
  electionTicks?: number;
  heartbeatTicks?: number;
  quiesceAfterTicks?: number;
}

export interface ReplicaFactoryParts {
  /** The host's store: a replica reads back from it the entries its Raft released from memory. */
  store: LogStore;
  machines: ReadonlyMap<string, StateMachine<unknown, unknown, unknown, unknown>>;
  tuning: ReplicaTuning;
  limits: FleetLimits;
  /** Seeds each replica's own random source. */
  random: Random;
  counters: GroupCounters;
  logger: Logger;
  scheduler: Scheduler;
  /** The group's config as the metadata this host saw has it (none: the defaults). */
  groupConfig: (group: string) => GroupConfig | undefined;
  announceStateHash: (groupId: number, hash: StateHash, to: string[]) => void;
  /** Every command a replica here applies. */
  onApply: (info: MemberInfo, index: number, outcome: Outcome<unknown>) => void;
  /** This host drains: its replicas campaign only after the others had their chance (RaftConfig.leaving). */
  leaving: () => boolean;
}

export function replicaFactory(parts: ReplicaFactoryParts): ReplicaFactory {
  const { tuning, limits } = parts;
  return (info, from) => {
    const machine = parts.machines.get(info.machine);
    if (machine === undefined) {
      const here = [...parts.machines.keys()].filter((m) => m !== CLUSTER_GROUP).sort();
      throw new FlotillaError(
        'NO_SUCH_MACHINE',
        `group ${info.group} runs machine ${JSON.stringify(info.machine)}, which this host does not register (it runs ${here.join(', ') || 'none'}); a host keeps every machine its replicas run: remove the group, or deactivate the host, before dropping one`,
        { group: info.group, machine: info.machine, machines: here },
      );
    }
    const config = parts.groupConfig(info.group) ?? {};
    const isCluster = info.groupId === CLUSTER_GROUP_ID;
    const options = {
      groupId: info.groupId,
      raft: {
        ...DEFAULT_RAFT_CONFIG,
        id: info.member,
        electionTick: tuning.electionTicks ?? DEFAULT_ELECTION_TICKS,
        heartbeatTick: tuning.heartbeatTicks ?? DEFAULT_HEARTBEAT_TICKS,
        quiesceAfterTicks: tuning.quiesceAfterTicks ?? DEFAULT_QUIESCE_AFTER_TICKS,
        // Sizes from the frame: every Append and snapshot chunk fits one, no entry is too large for an Append.
        maxAppendBytes: limits.maxAppendBytes,
        appendEntryOverheadBytes: limits.entryOverheadBytes,
        maxEntryBytes: limits.maxEntryBytes,
        snapshotChunkBytes: limits.snapshotChunkBytes,
        // A data group's followers learn a commit with the next append or heartbeat (Raft
        // broadcastCommit); the metadata group's at once, since every host acts on what it applied.
        broadcastCommit: isCluster,
        random: seededRandom(Math.floor(parts.random() * 2 ** 32)),
        // The log in memory holds what is in flight; a member that fell behind is sent the rest from the store.
        logReader: (from: number, to: number, maxBytes: number) => parts.store.readEntries(info.groupId, from, to, maxBytes),
        leaving: parts.leaving,
      },
      machine,
      snapshotEvery: config.snapshotEvery ?? (isCluster ? 1000 : undefined),
      maxLogBytes: config.maxLogBytes,
      maxPendingCommands: config.maxPendingCommands,
      counters: parts.counters,
      logger: parts.logger.child({ group: info.group, member: info.member }),
      now: () => parts.scheduler.now(),
      announceStateHash: (hash: StateHash, to: string[]) => parts.announceStateHash(info.groupId, hash, to),
      onApply: (index: number, outcome: Outcome<unknown>) => parts.onApply(info, index, outcome),
    };
    if (!('founding' in from)) return Group.restore(options, from.record);
    const replica = Group.create(options, from.founding);
    // The preferred leader of a new group campaigns at once: the group is usable in one round trip.
    if (from.founding.voters[0] === info.member) replica.campaignNow();
    return replica;
  };
}
