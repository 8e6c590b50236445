// Every host's answers to the fleet operations a client asks of one host (ops-protocol.ts): the
// fleet's view (hosts by zone, groups with placement and leader), adding a group (the host checks
// enough active hosts run its machine, naming what runs where, before it proposes), draining this
// host and activating it again, and this host's own state (the members a drain has left here).
// They arrive as client requests to the reserved group OPS_GROUP over the host's own
// authenticated transport, so they need the cluster secret like every other client request; the
// request server hands them here and they are answered from the host's public API, seen through
// OpsHost.

import type { Logger } from 'pino';
import { OPS_GROUP, decodeOpsRequest, encodeOps, type FleetHost, type FleetView, type OpsReply } from './ops-protocol.js';
import { FlotillaError } from '../common/errors.js';
import { CLUSTER_GROUP, type GroupRecord } from './cluster-machine.js';
import { SUSPECT_MS } from './failure-detector.js';
import type { Liveness } from './liveness.js';

export { OPS_GROUP };

/** A group's leader as the group answers (null: none answered), and its members' hosts if it says. */
export interface LeaderReport {
  leader: string | null;
  warnings: string[];
  voters?: string[];
  learners?: string[];
}

/** What the fleet operations use of a host: a part of its public API (host/host.ts implements it). */
export interface OpsHost {
  readonly id: string;
  readonly localState: string;
  groups(): Array<Pick<GroupRecord, 'name' | 'id' | 'machine' | 'replicas'>>;
  hosts(): Record<string, FleetHost[]>;
  placement(name: string): string[];
  leaderReport(name: string, options: { timeoutMs?: number }): Promise<LeaderReport>;
  replicaWarnings(): string[];
  addGroup(name: string, options: { machine: string; replicas?: number; timeoutMs?: number }): Promise<void>;
  deactivate(options: { timeoutMs?: number; onProgress?: (membersLeft: number) => void }): Promise<void>;
  activate(zone: string, options: { timeoutMs?: number }): Promise<void>;
  /** The zone the metadata records for this host (undefined: it was never active, or has no metadata). */
  readonly recordedZone: string | undefined;
  /** The replicas this host holds (a draining host's members left). */
  readonly memberCount: number;
}

/** How long the fleet view waits for each group's leader check. */
const LEADER_CHECK_MS = 500;

export interface OpsServed {
  fleet: number;
  addGroup: number;
  deactivate: number;
  activate: number;
  local: number;
  /** Operations answered with an error (any code). */
  errors: number;
}

export class OpsService {
  /** Fleet operations served, by operation, and how many were answered with an error. */
  readonly served: OpsServed = { fleet: 0, addGroup: 0, deactivate: 0, activate: 0, local: 0, errors: 0 };

  constructor(
    private readonly host: OpsHost,
    private readonly logger: Logger,
    /** When this host last heard each peer: whether it can reach them now (the fleet view). */
    private readonly liveness: Liveness,
  ) {}

  /** Answers one request's payload (`from`: the process that asked) with the reply's payload; a refusal throws a FlotillaError. */
  async serve(payload: Uint8Array, from: string = this.host.id): Promise<Uint8Array> {
    try {
      return encodeOps(await this.answer(payload, from));
    } catch (err) {
      this.served.errors++;
      throw err;
    }
  }

  private async answer(payload: Uint8Array, from: string): Promise<OpsReply> {
    const request = decodeOpsRequest(payload);
    const host = this.host;
    this.served[request.op]++;
    switch (request.op) {
      case 'fleet':
        return { op: 'fleet', fleet: await fleetView(host, this.liveness) };
      case 'addGroup':
        checkEnoughHosts(host, request.name, request.replicas);
        this.logger.info({ group: request.name, machine: request.machine, replicas: request.replicas, by: from }, 'adding a group on request of a client');
        await host.addGroup(request.name, request.replicas === undefined ? { machine: request.machine, timeoutMs: request.timeoutMs } : { machine: request.machine, replicas: request.replicas, timeoutMs: request.timeoutMs });
        return { op: 'addGroup' };
      case 'deactivate': {
        if (host.localState !== 'active') throw new FlotillaError('NOT_ACTIVE', `host ${host.id} is ${host.localState}, not active`);
        this.logger.info({ by: from }, 'deactivating on request of a client');
        // Answered at once; the client follows the drain in the fleet view (the drain's progress is logged by fleet-events.ts).
        host
          .deactivate({ timeoutMs: request.timeoutMs })
          .catch((err: unknown) => this.logger.error({ err }, 'deactivate failed'));
        return { op: 'deactivate' };
      }
      case 'activate': {
        // Absent: where it was active before (a drained host activated again in its zone).
        const zone = request.zone ?? host.recordedZone;
        if (zone === undefined) throw new FlotillaError('BAD_ARGUMENT', `host ${host.id} was never active: give the zone to activate it in`);
        this.logger.info({ zone, state: host.localState, by: from }, 'activating on request of a client');
        // Answered once done: activating takes seconds, not the minutes a drain may.
        await host.activate(zone, { timeoutMs: request.timeoutMs });
        return { op: 'activate', zone };
      }
      case 'local':
        return { op: 'local', host: host.id, state: host.localState, members: host.memberCount };
    }
  }
}

/**
 * Hosts by zone (with whether this host can reach each), the cluster group's leader, and every
 * group with its placement, current leader and the members its leader reports, as `host` sees them.
 */
export async function fleetView(host: OpsHost, liveness?: Pick<Liveness, 'silentFor'>): Promise<FleetView> {
  const warnings = new Set(host.replicaWarnings());
  const ask = (name: string): Promise<LeaderReport> => host.leaderReport(name, { timeoutMs: LEADER_CHECK_MS }).catch(() => ({ leader: null, warnings: [] }));
  const [cluster, ...groups] = await Promise.all([
    ask(CLUSTER_GROUP),
    ...host.groups().map(async (g) => {
      const report = await ask(g.name);
      for (const w of report.warnings) warnings.add(w);
      const placement = host.placement(g.name);
      const voters = report.voters ?? null;
      const offPlacement = voters === null ? {} : { offPlacement: voters.length !== placement.length || placement.some((h) => !voters.includes(h)) };
      return { name: g.name, id: g.id, machine: g.machine, replicas: g.replicas, placement, leader: report.leader, voters, learners: report.learners ?? null, ...offPlacement };
    }),
  ]);
  const hosts = host.hosts();
  // Without the host's liveness (a caller that has none) reachability is left unknown.
  if (liveness !== undefined) for (const h of Object.values(hosts).flat()) (h as FleetHost).reachable = h.id === host.id || liveness.silentFor(h.id) < SUSPECT_MS;
  const clusterView = { leader: cluster?.leader ?? null, voters: cluster?.voters ?? null };
  return { host: host.id, hosts, groups, warnings: [...warnings].sort(), cluster: clusterView };
}

/** An explicit replica count above the fleet's active hosts is refused before anything is proposed. */
function checkEnoughHosts(host: OpsHost, name: string, replicas: number | undefined): void {
  if (replicas === undefined) return;
  const active = Object.values(host.hosts()).flat().filter((h) => h.state === 'active').length;
  if (replicas > active) {
    throw new FlotillaError('BAD_ARGUMENT', `group ${name}: ${replicas} replicas asked, but the fleet has only ${active} active hosts`, { replicas, activeHosts: active });
  }
}
