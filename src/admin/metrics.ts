// /metrics in the Prometheus text exposition format (version 0.0.4), built from what any Host
// exposes publicly (status(), hosts(), groups(), metrics(): proposals, commit latency, fsyncs,
// frames, elections, membership changes, errors by code, fleet operations served), counters the
// caller may add, and the process's CPU and memory.

import type { Host } from '../host/host.js';

export type Labels = Record<string, string>;

export interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** A histogram's samples name their series: _bucket (with an le label), _sum, _count. */
  samples: Array<{ labels?: Labels; value: number; suffix?: '_bucket' | '_sum' | '_count' }>;
}

export interface MetricSources {
  host: Host;
  /** More families from the caller (counters it keeps). */
  extra?: () => Family[];
}

const ROLES = ['leader', 'follower', 'candidate', 'learner'] as const;
const HOST_STATES = ['active', 'deactivating', 'inactive', 'failed'] as const;
const startTimeSeconds = Math.floor(Date.now() / 1000 - process.uptime());

export function collect(sources: MetricSources): Family[] {
  const { host } = sources;
  const status = host.status();
  const families: Family[] = [
    gauge('flotilla_host_info', 'This host: id, zone and local state (always 1).', [{ labels: { host: status.id, zone: status.zone ?? '', state: status.state }, value: 1 }]),
    gauge('flotilla_members', 'Replicas on this host by role.', ROLES.map((role) => ({ labels: { role }, value: status.members.filter((m) => m.role === role).length }))),
    gauge('flotilla_leaders', 'Groups this host leads.', [{ value: status.leaders }]),
    gauge('flotilla_quiesced_members', 'Replicas on this host that are idle (no heartbeats until there is work).', [{ value: status.quiesced }]),
    gauge('flotilla_leaderless_groups', 'Groups with a replica here and no leader for over 5 s.', [{ value: status.leaderless.length }]),
    gauge('flotilla_not_replicating_groups', 'Groups led here that have committed nothing with entries waiting for over 6 election timeouts (status().notReplicating).', [{ value: status.notReplicating.length }]),
    gauge('flotilla_degraded_groups', 'Groups whose replica here is degraded: its snapshots fail (its log is not compacted) or it stalled on a snapshot that does not restore (status().degraded says why).', [{ value: status.degraded.length }]),
    gauge('flotilla_state_mismatched_groups', "Groups whose replica here and another host's held different states at the same applied index, not resolved since (status().stateMismatches).", [{ value: new Set(status.stateMismatches.map((x) => x.group)).size }]),
    gauge('flotilla_data_dir_generation', "This data directory's generation: current (this start's), and floor (the lowest a peer may still find it at; see docs/OPERATIONS.md).", [
      { labels: { kind: 'current' }, value: status.generation.current },
      { labels: { kind: 'floor' }, value: status.generation.floor },
    ]),
    gauge('flotilla_peer_data_dir_generation', "Each peer's data directory generation as this host has durably recorded it: a peer that comes back below it is refused (STORAGE_STALE).", Object.entries(status.generation.peers).map(([peer, value]) => ({ labels: { peer }, value }))),
    gauge('flotilla_member_term', 'Raft term of each replica on this host.', status.members.map((m) => ({ labels: { group: m.group }, value: m.term }))),
    gauge('flotilla_member_commit_index', 'Commit index of each replica on this host.', status.members.map((m) => ({ labels: { group: m.group }, value: m.commit }))),
    gauge('flotilla_member_applied_index', 'Applied index of each replica on this host.', status.members.map((m) => ({ labels: { group: m.group }, value: m.applied }))),
    gauge('flotilla_member_lag_entries', 'Entries committed but not yet applied, per replica.', status.members.map((m) => ({ labels: { group: m.group }, value: m.lag }))),
  ];
  if (status.state === 'active' || status.state === 'deactivating') {
    const hosts = Object.values(host.hosts()).flat();
    families.push(
      gauge('flotilla_fleet_hosts', 'Hosts of the fleet by state, as this host last saw the metadata.', HOST_STATES.map((state) => ({ labels: { state }, value: hosts.filter((h) => h.state === state).length }))),
      gauge('flotilla_fleet_groups', 'Groups of the fleet, as this host last saw the metadata.', [{ value: host.groups().length }]),
    );
  }
  const m = host.metrics();
  const t = m.transport;
  const latency = m.commitLatency;
  families.push(
    counter('flotilla_proposals_total', 'Commands proposed to the Raft log by leaders on this host.', [{ value: m.proposals }]),
    histogram('flotilla_commit_latency_seconds', 'Commands served by a leader on this host, from arrival to applied on it.', [
      ...latency.buckets.map((b) => ({ suffix: '_bucket' as const, labels: { le: renderValue(b.le) }, value: b.count })),
      { suffix: '_sum', value: latency.sum },
      { suffix: '_count', value: latency.count },
    ]),
    counter('flotilla_applied_commands_total', 'Commands applied by the replicas on this host, by outcome (failed: the machine threw).', [
      { labels: { outcome: 'ok' }, value: m.applied.ok },
      { labels: { outcome: 'failed' }, value: m.applied.failed },
    ]),
    counter('flotilla_fsyncs_total', 'Synced store writes (one per host loop turn that had entries or votes to persist).', [{ value: m.loop.syncs }]),
    counter('flotilla_store_writes_total', 'Store writes (one batch per host loop turn with something to persist).', [{ value: m.loop.writes }]),
    counter('flotilla_loop_turns_total', 'Host loop turns that had work.', [{ value: m.loop.turns }]),
    counter('flotilla_loop_apply_cut_short_total', 'Host loop turns that stopped applying at their budget (10 ms) and left committed entries for the next turns: the host is catching up.', [{ value: m.loop.applyCutShort }]),
    counter('flotilla_group_snapshot_failures_total', "Snapshots a group's machine threw on here (the group carried on from its uncompacted log and tries again later).", [{ value: m.snapshotFailures }]),
    counter('flotilla_group_restore_failures_total', 'Snapshots a machine could not restore here (that replica stalled: it takes no part in its group until the host restarts).', [{ value: m.restoreFailures }]),
    counter('flotilla_state_hash_mismatches_total', "Times a replica here found another host's replica with a different state hash at the same applied index (logged at error level).", [{ value: m.stateMismatches }]),
    counter('flotilla_elections_total', 'Elections started by replicas on this host.', [{ value: m.elections }]),
    counter('flotilla_leader_changes_total', 'Leaderships won by replicas on this host (summed over hosts: the fleet-wide leader changes).', [{ value: m.leaderChanges }]),
    counter('flotilla_membership_changes_total', 'Membership changes (add learner, promote, remove) committed by leaders on this host.', [{ value: m.membershipChanges }]),
    counter('flotilla_call_errors_total', 'Command and query calls served here that failed, by error code (NOT_LEADER: redirected to the leader).', Object.entries(m.errors).map(([code, value]) => ({ labels: { code }, value }))),
    counter('flotilla_fleet_operations_total', 'Fleet operations (status, add-group, deactivate, activate) served to clients.', (['fleet', 'addGroup', 'deactivate', 'activate'] as const).map((op) => ({ labels: { op }, value: m.fleetOps[op] }))),
    counter('flotilla_fleet_operation_errors_total', 'Fleet operations answered with an error.', [{ value: m.fleetOps.errors }]),
    counter('flotilla_transport_frames_total', 'Frames sent and received.', [{ labels: { direction: 'sent' }, value: t.framesSent }, { labels: { direction: 'received' }, value: t.framesReceived }]),
    counter('flotilla_transport_items_total', 'Items (Raft messages, requests, pings) sent and received.', [{ labels: { direction: 'sent' }, value: t.itemsSent }, { labels: { direction: 'received' }, value: t.itemsReceived }]),
    counter('flotilla_transport_bytes_total', 'Frame bytes sent and received.', [{ labels: { direction: 'sent' }, value: t.bytesSent }, { labels: { direction: 'received' }, value: t.bytesReceived }]),
    counter('flotilla_transport_items_refused_total', 'Items not queued (destination busy, unreachable, or item too large).', [{ value: t.itemsRefused }]),
    counter('flotilla_transport_items_too_large_total', 'Items refused as larger than a frame: a bug (every size limit derives from the frame), logged at error level.', [{ value: t.itemsTooLarge }]),
    counter('flotilla_transport_items_discarded_total', 'Items queued whose destination went away before they were sent.', [{ value: t.itemsDiscarded }]),
  );
  const c = m.connections;
  if (c !== null) {
    families.push(
      gauge('flotilla_transport_connections', 'Open connections: accepted and authenticated, accepted and not yet authenticated, dialed by this host.', [
        { labels: { state: 'authenticated' }, value: c.accepted - c.unauthenticated },
        { labels: { state: 'unauthenticated' }, value: c.unauthenticated },
        { labels: { state: 'dialed' }, value: c.dialed },
      ]),
      gauge('flotilla_transport_max_connections', 'Connections this host holds at most (accepted and dialed), from its file-descriptor limit or maxConnections.', [{ value: c.maxConnections }]),
      counter('flotilla_transport_connections_refused_total', 'Connections destroyed at accept, by the limit they met.', [
        { labels: { limit: 'max_connections' }, value: c.refusedFull },
        { labels: { limit: 'max_unauthenticated' }, value: c.refusedUnauthenticated },
        { labels: { limit: 'max_unauthenticated_per_address' }, value: c.refusedPerAddress },
      ]),
      counter('flotilla_transport_handshake_timeouts_total', 'Accepted connections closed for not authenticating within handshakeTimeoutMs of their accept.', [{ value: c.handshakeTimeouts }]),
    );
  }
  if (sources.extra !== undefined) families.push(...sources.extra());
  const cpu = process.cpuUsage();
  const memory = process.memoryUsage();
  families.push(
    counter('process_cpu_user_seconds_total', 'User CPU time spent, in seconds.', [{ value: cpu.user / 1e6 }]),
    counter('process_cpu_system_seconds_total', 'System CPU time spent, in seconds.', [{ value: cpu.system / 1e6 }]),
    counter('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [{ value: (cpu.user + cpu.system) / 1e6 }]),
    gauge('process_resident_memory_bytes', 'Resident memory size, in bytes.', [{ value: memory.rss }]),
    gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', [{ value: memory.heapUsed }]),
    gauge('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', [{ value: startTimeSeconds }]),
  );
  return families;
}

export function gauge(name: string, help: string, samples: Family['samples']): Family {
  return { name, help, type: 'gauge', samples };
}

export function counter(name: string, help: string, samples: Family['samples']): Family {
  return { name, help, type: 'counter', samples };
}

export function histogram(name: string, help: string, samples: Family['samples']): Family {
  return { name, help, type: 'histogram', samples };
}

export function render(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) lines.push(`${f.name}${s.suffix ?? ''}${renderLabels(s.labels)} ${renderValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}

function renderLabels(labels: Labels | undefined): string {
  if (labels === undefined || Object.keys(labels).length === 0) return '';
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return `{${parts.join(',')}}`;
}

function renderValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
