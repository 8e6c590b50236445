// The info lines an operator reads to follow what changes the fleet, each logged once, by the host
// where it happens: a metadata change by the cluster leader that committed it, naming the process
// that asked (fleetChange); this host's own state as the metadata records it, and a drain's
// progress, by the host it concerns (HostEvents). Leader elections are logged by the group that
// won (group.ts), replica moves by the leader that proposes them (reconcile-driver.ts). No line
// carries a command's payload or anything secret: only names, ids, counts and states.

import type { Logger } from 'pino';
import type { Scheduler } from '../common/scheduler.js';
import type { ClusterCommand, HostState } from './cluster-machine.js';
import { decodeClusterReply } from './cluster-protocol.js';
import type { FleetView } from './fleet-view.js';

/** While a host drains, its members left are logged at most this often (and when they reach 0). */
export const DRAIN_LOG_MS = 5000;

/**
 * Logs a cluster command that committed and changed something (its reply is ok), on the cluster leader that served it;
 * `by` is the process whose request it was: a client's id, or a host's (the one that proposed it,
 * for changes a host makes: activating, draining, failure marking, a group added through it).
 */
export function fleetChange(logger: Logger, payload: Uint8Array, reply: Uint8Array, by: string, silentFor: (host: string) => number): void {
  let command: ClusterCommand;
  try {
    // The machine applied the command, so it decodes; a refusal changed nothing.
    if (!decodeClusterReply(reply).ok) return;
    command = JSON.parse(new TextDecoder().decode(payload)) as ClusterCommand;
  } catch {
    return;
  }
  switch (command.op) {
    case 'addGroup':
      logger.info({ group: command.name, machine: command.machine, replicas: command.replicas, by }, 'group added');
      return;
    case 'removeGroup':
      logger.info({ group: command.name, by }, 'group removed');
      return;
    case 'activateHost':
      logger.info({ peer: command.id, zone: command.zone, address: command.address, by }, 'host activated');
      return;
    case 'setHostState':
      // A failure marking says how long the host was silent, as the cluster leader that decided it saw.
      const silent = command.state === 'failed' ? { silentMs: Math.round(silentFor(command.id)) } : {};
      logger.info({ peer: command.id, state: command.state, ...(command.from === undefined ? {} : { from: command.from }), ...silent, by }, 'host state change');
      return;
  }
}

/** This host's own state and drain, looked at on every periodic pass. */
export class HostEvents {
  /** This host's state in the metadata at the last look (undefined: not in it). */
  private recorded: HostState | undefined;
  private drainLogged: { at: number; left: number } | null = null;
  /** Fleet hosts whose connection to this host was lost and is not back yet. */
  private readonly lost = new Set<string>();

  constructor(private readonly parts: { view: FleetView; logger: Logger; scheduler: Scheduler }) {}

  /** A connection went down: only a fleet host's is news (clients and CLI calls come and go, transport debug). */
  linkDown(peer: string): void {
    const { view, logger } = this.parts;
    if (view.stopped || !view.knownPeers.has(peer) || this.lost.has(peer)) return;
    this.lost.add(peer);
    logger.info({ peer }, 'lost the connection to a host');
  }

  linkUp(peer: string): void {
    if (!this.lost.delete(peer) || this.parts.view.stopped) return;
    this.parts.logger.info({ peer }, 'connection to a host back');
  }

  observe(): void {
    const { view, logger, scheduler } = this.parts;
    if (view.stopped) return;
    const record = view.metadata?.hosts[view.hostId];
    // A drained host stops following the metadata: its copy shows it deactivating, its own state is inactive.
    const state = view.state === 'inactive' && record?.state === 'deactivating' ? 'inactive' : record?.state;
    if (state !== undefined && state !== this.recorded) {
      const from = this.recorded ?? 'none';
      logger.info({ state, from, zone: record?.zone, members: view.members.size }, `this host is ${state}`);
      this.recorded = state;
    }
    const draining = state === 'deactivating' || view.state === 'deactivating';
    if (!draining) {
      this.drainLogged = null;
      return;
    }
    const now = scheduler.now();
    const left = view.members.size;
    const last = this.drainLogged;
    if (last !== null && (left === last.left || (now - last.at < DRAIN_LOG_MS && left !== 0))) return;
    logger.info({ membersLeft: left }, 'draining');
    this.drainLogged = { at: now, left };
  }
}
