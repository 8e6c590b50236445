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
        electionTick: tuning.electionTicks ?? 10,
        heartbeatTick: tuning.heartbeatTicks ?? 2,
        quiesceAfterTicks: tuning.quiesceAfterTicks ?? 3 * (tuning.electionTicks ?? 10),
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
