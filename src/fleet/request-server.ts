// Serves the requests routers send this host (its own router's and other hosts'): commands and
// queries to the replicas it holds (as leader, or a local read), the fleet operations of clients
// (ops-service.ts), and the admin requests hosts send each other (admin.ts): a join to forward to
// the cluster group, a replica to prepare, a member's status, a leader check. It also tells the
// router which hosts to ask for a group.

import type { Logger } from 'pino';
import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';
import { faultFields } from '../group/machine-error.js';
import { isMember } from '../raft/membership.js';
import { Role } from '../raft/types.js';
import type { ClientRequestItem, ClientResponseItem, HostId } from '../transport/items.js';
import { decodeAdminRequest, encodeAdmin, type AdminReply, type AdminRequest } from './admin.js';
import type { ClusterCalls } from './cluster-calls.js';
import { decodeClusterReply } from './cluster-protocol.js';
import { CLUSTER_GROUP } from './cluster-machine.js';
import { fleetChange } from './fleet-events.js';
import type { FleetView } from './fleet-view.js';
import type { HostCounters } from './host-counters.js';
import type { Housekeeping } from './housekeeping.js';
import { truncateUtf8, type FleetLimits } from './limits.js';
import type { LocalMember } from './local-members.js';
import { hostOfMember, memberSerial } from './member-id.js';
import { validateName } from './names.js';
import { OPS_GROUP } from './ops-protocol.js';
import { checkRequest } from './request-check.js';
import { toFlotilla } from './router.js';

export interface RequestServerParts {
  view: FleetView;
  scheduler: Scheduler;
  limits: FleetLimits;
  counters: HostCounters;
  housekeeping: Housekeeping;
  cluster: ClusterCalls;
  /** The machines this host registers, by name. */
  machines: { has(name: string): boolean };
  /** Answers clients' fleet operations (ops-service.ts). */
  ops: { serve(payload: Uint8Array, from: HostId): Promise<Uint8Array> };
  /** What is wrong with this host's replica of `group` (a leader check carries it). */
  warnings: (group: string) => string[];
  /** Where the metadata changes this host commits as cluster leader are logged (fleet-events.ts). */
  logger: Logger;
}

export class RequestServer {
  private readonly view: FleetView;

  constructor(private readonly parts: RequestServerParts) {
    this.view = parts.view;
  }

  /** `from`: the process that sent the request (this host for its own router's). */
  async serve(item: ClientRequestItem, from: HostId = this.view.hostId): Promise<ClientResponseItem> {
    const { view, scheduler, counters } = this.parts;
    const started = scheduler.now();
    try {
      if (view.stopped) throw new FlotillaError('SHUTTING_DOWN', `host ${view.hostId} is stopping`);
      checkRequest(item, this.parts.limits);
      if (item.requestKind === 'admin') return this.answer(item, encodeAdmin(await this.serveAdmin(item)));
      if (item.group === OPS_GROUP) return this.answer(item, await this.parts.ops.serve(item.payload, from));
      const member = view.memberFor(item.group);
      if (member === undefined) throw new FlotillaError('NOT_LEADER', `host ${view.hostId} holds no replica of ${item.group}`, { leader: '' });
      const replica = member.replica;
      if (item.requestKind === 'query' && item.consistency === 'local') {
        return this.answer(item, await replica.queryBytes(item.payload, { consistency: 'local' }));
      }
      if (replica.role !== Role.Leader) {
        throw new FlotillaError('NOT_LEADER', `host ${view.hostId} does not lead ${item.group}`, { leader: replica.leader });
      }
      const work =
        item.requestKind === 'command'
          ? replica.commandBytes(item.payload, item.clientId === '' ? {} : { session: { clientId: item.clientId, seq: item.seq, ackedBelow: item.ackedBelow } })
          : replica.queryBytes(item.payload, { consistency: item.consistency });
      const reply = await this.withDeadline(work, item.timeoutMs, item.group);
      const response = this.answer(item, reply);
      if (item.requestKind === 'command') counters.committed(scheduler.now() - started);
      if (item.requestKind === 'command' && item.group === CLUSTER_GROUP) fleetChange(this.parts.logger, item.payload, reply, from, (host) => view.liveness.silentFor(host));
      return response;
    } catch (err) {
      let error = toFlotilla(err);
      if (item.requestKind !== 'admin' && item.group !== OPS_GROUP) {
        counters.failed(error.code);
        // The machine threw: the command was committed and applied all the same.
        if (item.requestKind === 'command' && error.code === 'COMMAND_FAILED') counters.committed(scheduler.now() - started);
      }
      if (error.code === 'BUSY' && error.details.retry === true && typeof error.details.leader === 'string') {
        // Leadership is moving: point the caller at the next leader rather than failing it.
        error = new FlotillaError('NOT_LEADER', `${item.group}: leadership is moving`, { leader: error.details.leader });
      }
      const leader = typeof error.details.leader === 'string' && error.details.leader !== '' ? hostOfMember(error.details.leader) : '';
      return {
        kind: 'clientResponse',
        requestId: item.requestId,
        error: { code: error.code, message: truncateUtf8(error.message, this.parts.limits.maxErrorMessageBytes), ...faultFields(error) },
        payload: new Uint8Array(0),
        leaderHint: leader === view.hostId ? '' : leader,
        leaderTerm: 0,
      };
    }
  }

  /** Hosts to ask for a group: the leader this host's replica knows, placement, then the rest. */
  candidates(group: string): HostId[] {
    const view = this.view;
    const out: HostId[] = [];
    const add = (h: string) => {
      if (h !== '' && !out.includes(h)) out.push(h);
    };
    const local = view.memberFor(group);
    if (local !== undefined && local.replica.leader !== '') add(hostOfMember(local.replica.leader));
    const meta = view.metadata;
    if (meta !== null) {
      const record = meta.groups[group];
      if (group === CLUSTER_GROUP) for (const h of view.placementFor(CLUSTER_GROUP, view.clusterReplicas)) add(h);
      else if (record !== undefined) for (const h of view.placementFor(group, record.replicas)) add(h);
      if (local !== undefined) for (const m of [...local.replica.membership.voters]) add(hostOfMember(m));
      for (const h of Object.values(meta.hosts)) if (h.state === 'active' || h.state === 'deactivating') add(h.id);
    } else {
      for (const id of view.knownPeers.keys()) add(id);
    }
    return out;
  }

  /** The response carrying `payload`; a reply larger than a response carries fails (the command applied all the same). */
  private answer(item: ClientRequestItem, payload: Uint8Array): ClientResponseItem {
    const limit = this.parts.limits.maxReplyBytes;
    if (payload.length > limit) {
      const what = item.requestKind === 'command' ? 'the command applied, but its reply' : `the ${item.requestKind}'s reply`;
      throw new FlotillaError('COMMAND_FAILED', `group ${item.group}: ${what} is ${payload.length} bytes, more than maxReplyBytes (${limit} bytes)`, {
        bytes: payload.length,
        limit,
      });
    }
    return { kind: 'clientResponse', requestId: item.requestId, error: null, payload, leaderHint: this.view.hostId, leaderTerm: 0 };
  }

  private async serveAdmin(item: ClientRequestItem): Promise<AdminReply> {
    const view = this.view;
    const request: AdminRequest = decodeAdminRequest(item.payload);
    switch (request.op) {
      case 'join':
      case 'cluster': {
        if (view.metadata === null) throw new FlotillaError('NOT_ACTIVE', `host ${view.hostId} is not in a fleet yet`);
        const bytes = await this.parts.cluster.commandBytes(request.command, item.timeoutMs);
        return { op: 'cluster', reply: decodeClusterReply(bytes) };
      }
      case 'prepare': {
        // A group's leader asks for an empty replica here, to add it as a learner.
        validateName('group', request.group.replace(/^\$/, ''));
        if (!this.parts.machines.has(request.machine)) throw new FlotillaError('NO_SUCH_MACHINE', `host ${view.hostId} does not register machine ${request.machine}`);
        if (hostOfMember(request.member) !== view.hostId) throw new FlotillaError('BAD_ARGUMENT', `member ${request.member} is not on host ${view.hostId}`);
        if (view.state === 'stopped' || view.state === 'deactivating') throw new FlotillaError('NOT_ACTIVE', `host ${view.hostId} takes no new members`);
        // A leader that was paused or deposed may ask late: it must not replace a newer replica
        // (one a later leader added, which may vote by now).
        const newer = (existing: LocalMember): boolean => {
          const term = existing.replica.term;
          return request.term < term || (request.term === term && memberSerial(request.member) <= memberSerial(existing.member));
        };
        try {
          const info = { groupId: request.groupId, group: request.group, machine: request.machine, member: request.member };
          await view.members.create(info, null, (existing) => !newer(existing));
          return { op: 'prepare', ok: true };
        } catch (err) {
          if (err instanceof FlotillaError && typeof err.details.tombstone === 'number') return { op: 'prepare', ok: false, tombstone: err.details.tombstone };
          throw err;
        }
      }
      case 'memberStatus': {
        const member = view.members.get(request.groupId);
        const replica = member?.replica;
        if (replica === undefined || !replica.leadsCommittedTerm) throw new FlotillaError('NOT_LEADER', 'not the leader', { leader: replica?.leader ?? '' });
        // A replica prepared for a learner that is not added yet is a member-to-be: keep it.
        const preparing = this.parts.housekeeping.running(`prepare/${request.groupId}/${hostOfMember(request.member)}`);
        return { op: 'memberStatus', member: isMember(replica.membership, request.member) || replica.configChangePending || preparing };
      }
      case 'leaderCheck': {
        const member = view.memberFor(item.group);
        if (member === undefined || !member.replica.leadsCommittedTerm) {
          throw new FlotillaError('NOT_LEADER', `host ${view.hostId} does not lead ${item.group}`, { leader: member?.replica.leader ?? '' });
        }
        const { voters, learners } = member.replica.membership;
        return { op: 'leaderCheck', leader: view.hostId, warnings: this.parts.warnings(item.group), voters: voters.map(hostOfMember), learners: learners.map(hostOfMember) };
      }
    }
  }

  private withDeadline<T>(work: Promise<T>, timeoutMs: number, group: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.parts.scheduler.after(timeoutMs, () =>
        reject(new FlotillaError('TIMEOUT', `group ${group}: not done within ${timeoutMs} ms here; it may still apply`)),
      );
      work.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err);
        },
      );
    });
  }
}
