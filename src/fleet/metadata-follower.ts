// Follows the fleet's metadata into the fleet view: after the cluster group applied something
// (soon after), and on every periodic pass. It takes the hosts and peers into the view, founds the
// replicas this host founds, deletes those of removed groups, and tells the host (its hooks) what
// else to look at: every group after a full scan, one group's members after it was added or
// removed, the groups in motion otherwise. A host that holds no cluster replica asks the cluster
// group for the metadata now and then instead.

import type { Scheduler } from '../common/scheduler.js';
import { Decode } from '../common/decode.js';
import type { LogStore } from '../storage/log-store.js';
import type { HostId } from '../transport/items.js';
import type { Transport } from '../transport/transport.js';
import type { ClusterCalls } from './cluster-calls.js';
import { decodeClusterReply } from './cluster-protocol.js';
import { CLUSTER_GROUP_ID, type ClusterState, type GroupRecord } from './cluster-machine.js';
import type { FleetView } from './fleet-view.js';
import type { Housekeeping } from './housekeeping.js';
import type { LocalMember } from './local-members.js';
import { memberId } from './member-id.js';
import type { MetadataChanges } from './metadata-changes.js';

/** Periodic passes between full metadata scans when nothing changed (retries of failed housekeeping). */
const RESCAN_PASSES = 20;
/** Periodic passes between metadata fetches of a host without a cluster replica. */
const REFRESH_PASSES = 4;
const PEERS_KEY = 'fleet/peers';
const encoder = new TextEncoder();

/** What the host does with what the follower found. */
export interface MetadataHooks {
  /** A full scan looked at every group (`rescan`: a periodic retry, nothing changed). */
  scanned(meta: ClusterState, rescan: boolean): void;
  /** A member here of a group just added or removed (and not deleted). */
  memberChanged(meta: ClusterState, member: LocalMember): void;
  /** Only some groups changed: those in motion take their next step. */
  groupsChanged(): void;
}

export interface MetadataFollowerParts {
  view: FleetView;
  store: LogStore;
  transport: Pick<Transport, 'setPeers'>;
  scheduler: Scheduler;
  housekeeping: Housekeeping;
  cluster: ClusterCalls;
  /** The groups the cluster machine changed since onMetadata() last looked (host changes: all). */
  changes: MetadataChanges;
  hooks: MetadataHooks;
}

export class MetadataFollower {
  private readonly view: FleetView;
  private dirty = false;
  /** The metadata (object and version) the last full scan looked at. */
  private scanned: ClusterState | null = null;
  private seenVersion = -1;
  private passesSinceScan = 0;
  private passesSinceRefresh = 0;
  private peersKey = '';

  constructor(private readonly parts: MetadataFollowerParts) {
    this.view = parts.view;
  }

  /** The peers saved in the store, for a host restarting with no usable copy of the metadata. */
  async restorePeers(): Promise<void> {
    const saved = await this.parts.store.getMeta(PEERS_KEY);
    if (saved !== undefined) this.setPeers(decodePeers(saved));
  }

  /** Coalesces every apply of the cluster group in a turn into one look at the new metadata. */
  metadataChanged(): void {
    if (this.dirty) return;
    this.dirty = true;
    this.parts.scheduler.soon(() => {
      this.dirty = false;
      this.onMetadata();
    });
  }

  /**
   * Acts on the metadata: after the cluster group applied something (soon after), and on every
   * periodic `pass`. A full scan costs O(groups), so it runs only when the hosts changed, on a
   * whole new state, and now and then to retry; an added or removed group is looked at alone.
   * Between scans only groups with something in motion can need a step: a quiesced group's
   * membership and placement change only with the metadata (idle cost, bench: 3,000 groups).
   */
  onMetadata(pass = false): void {
    const view = this.view;
    if (view.stopped) return;
    const cluster = view.members.get(CLUSTER_GROUP_ID);
    if (cluster !== undefined && cluster.replica.appliedIndex > 0) {
      const state = cluster.replica.state as ClusterState;
      // A new replica of the cluster group (this host's was removed while it was down, and added
      // again) replays the metadata from its start: until it reaches what this host saw, its
      // states are older ones, and taking them would unlearn groups and hosts (a command through
      // this host refused NO_SUCH_GROUP, later peers dropped). Versions only grow along the log.
      const behind = view.metadata !== null && state.version < view.metadata.version;
      if (state.version > 0 && !behind) view.metadata = state;
    }
    const meta = view.metadata;
    if (meta === null) return;
    const changedGroups = this.parts.changes.take();
    const changed = meta.version !== this.seenVersion;
    this.seenVersion = meta.version;
    const newState = changed && meta !== this.scanned;
    if (changedGroups === null || newState || (pass && ++this.passesSinceScan >= RESCAN_PASSES)) {
      this.scanAll(meta, !changed);
      return;
    }
    for (const name of changedGroups) this.scanGroup(meta, name);
    // Groups in motion take their next step at once, not at the next pass: the cluster group
    // itself grows to its voters while the fleet forms, and a new leader's change commits.
    this.parts.hooks.groupsChanged();
  }

  /**
   * A host that holds no replica of the cluster group any more (a draining one: its learner is
   * removed first; or one whose deactivate timed out but was applied) asks the cluster group for
   * the metadata, about once a second.
   */
  refreshMetadata(): void {
    const view = this.view;
    if (view.members.get(CLUSTER_GROUP_ID) !== undefined || view.metadata === null || view.state === 'inactive') return;
    if (++this.passesSinceRefresh < REFRESH_PASSES) return;
    this.passesSinceRefresh = 0;
    this.parts.housekeeping.run('refresh-metadata', async () => {
      const reply = decodeClusterReply(await this.parts.cluster.queryBytes({ op: 'state' }, 2000));
      if (reply.ok && reply.state !== undefined && view.members.get(CLUSTER_GROUP_ID) === undefined) view.metadata = reply.state;
    });
  }

  /** Everything placement and the metadata ask of this host, for every group. `rescan`: a periodic retry. */
  private scanAll(meta: ClusterState, rescan: boolean): void {
    const view = this.view;
    this.scanned = meta;
    this.passesSinceScan = 0;
    this.updatePeers(meta);
    view.updateActiveHosts(meta);
    const me = meta.hosts[view.hostId];
    // The fleet has this host draining (a deactivate whose answer was lost): so does the host.
    if (me?.state === 'deactivating' && me.incarnation === view.incarnation && view.state === 'active') view.state = 'deactivating';
    for (const group of Object.values(meta.groups)) this.foundIfFounder(meta, group);
    for (const m of [...view.members.all()]) this.deleteIfRemoved(meta, m);
    this.parts.hooks.scanned(meta, rescan);
  }

  /** What an added or removed group asks of this host: found it, delete it, or move it. */
  private scanGroup(meta: ClusterState, name: string): void {
    const group = meta.groups[name];
    if (group !== undefined) this.foundIfFounder(meta, group);
    for (const m of this.view.members.named(name)) {
      if (this.deleteIfRemoved(meta, m)) continue;
      this.parts.hooks.memberChanged(meta, m);
    }
  }

  /** A group this host founds (it was active when the group was added): its replica starts here. */
  private foundIfFounder(meta: ClusterState, group: GroupRecord): void {
    const { members, hostId } = this.view;
    const me = meta.hosts[hostId];
    const founder = memberId(hostId, 1);
    if (
      me !== undefined &&
      me.incarnation === this.view.incarnation &&
      me.registeredAt <= group.createdAt &&
      group.founders.includes(founder) &&
      members.get(group.id) === undefined &&
      members.tombstone(group.id) === 0
    ) {
      const info = { groupId: group.id, group: group.name, machine: group.machine, member: founder };
      this.parts.housekeeping.run(`found/${group.id}`, () => members.create(info, { voters: group.founders, learners: [] }));
    }
  }

  /** Deletes the replica of a group the fleet removed; true if it is going. */
  private deleteIfRemoved(meta: ClusterState, m: LocalMember): boolean {
    if (m.groupId === CLUSTER_GROUP_ID || m.groupId >= meta.nextGroupId || meta.groups[m.group]?.id === m.groupId) return false;
    this.parts.housekeeping.run(`delete/${m.groupId}`, () => this.view.members.delete(m.groupId));
    return true;
  }

  private updatePeers(meta: ClusterState): void {
    const peers = new Map<HostId, string>();
    for (const h of Object.values(meta.hosts)) if (h.id !== this.view.hostId) peers.set(h.id, h.address);
    this.setPeers(peers);
  }

  /**
   * The fleet's other hosts, also kept in the store: a host restarting with no usable copy of the
   * metadata (its cluster replica was still empty) can still reach the fleet through them.
   */
  private setPeers(peers: Map<HostId, string>): void {
    const key = [...peers].map(([id, a]) => `${id}@${a}`).sort().join(',');
    if (key === this.peersKey) return;
    this.peersKey = key;
    // A host learned of just now (a new one whose join came before it was a peer) has been silent
    // only since now: judged from this process's start, it would be marked failed as it joins.
    for (const id of peers.keys()) if (!this.view.knownPeers.has(id)) this.view.liveness.heard(id);
    this.view.knownPeers = peers;
    this.parts.transport.setPeers(peers);
    const store = this.parts.store;
    const batch = store.newBatch();
    batch.setMeta(PEERS_KEY, encoder.encode(JSON.stringify([...peers])));
    this.parts.housekeeping.run('save-peers', () => store.write(batch, { sync: false }));
  }
}

/** The saved peers: [id, address] pairs (STORAGE_CORRUPT if they are not). */
function decodePeers(bytes: Uint8Array): Map<HostId, string> {
  const d = new Decode('STORAGE_CORRUPT', `the saved peers (${PEERS_KEY})`);
  const pair = (value: unknown, path: string): [HostId, string] => {
    const [id, address, ...rest] = d.array(value, path, d.string);
    if (id === undefined || address === undefined || rest.length > 0) return d.fail(path, 'an id and an address', value);
    return [id, address];
  };
  return new Map(d.array(d.json(bytes), '', pair));
}
