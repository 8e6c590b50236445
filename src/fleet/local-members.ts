// The replicas this host holds, and the durable record of them. Each replica is registered in the
// store's host metadata (`member/<groupId>`) before it exists, so a restart brings back exactly the
// members the host had. Deleting one leaves a tombstone (`tomb/<groupId>`: the highest member serial
// deleted), so a replica is never recreated under an id it once used: a wiped replica answering
// under an old id could vote twice in a term.

import { Decode } from '../common/decode.js';
import { FlotillaError } from '../common/errors.js';
import type { Group } from '../group/group.js';
import type { HostLoop } from '../loop/host-loop.js';
import type { Membership, NodeId } from '../raft/types.js';
import type { GroupRecord, LogStore } from '../storage/log-store.js';
import { memberSerial } from './member-id.js';

export interface MemberInfo {
  groupId: number;
  group: string;
  machine: string;
  member: NodeId;
}

export type Replica = Group<unknown, unknown, unknown, unknown>;

export interface LocalMember extends MemberInfo {
  replica: Replica;
}

/** Builds a replica: founding (with its first membership), restored from a record, or empty. */
export type ReplicaFactory = (info: MemberInfo, from: { founding: Membership } | { record: GroupRecord }) => Replica;

const MEMBER_PREFIX = 'member/';
const TOMB_PREFIX = 'tomb/';
const encoder = new TextEncoder();

export class LocalMembers {
  private readonly members = new Map<number, LocalMember>();
  /** The same members by group name (a removed group's and a re-added one's may overlap briefly). */
  private readonly byName = new Map<string, LocalMember[]>();
  private readonly tombstones = new Map<number, number>();
  /** Creations and deletions run one at a time per group. */
  private readonly locks = new Map<number, Promise<unknown>>();
  /**
   * Settles once load() has restored every registered replica. Creations and deletions wait for
   * it: the host serves requests while it loads, and a leader's late `prepare` for a member this
   * host already holds on disk must find that member, not replace it with an empty one under the
   * same id (found by `npm run chaos`: a restarted host died with GROUP_EXISTS).
   */
  private loaded: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: LogStore,
    private readonly loop: HostLoop,
    private readonly factory: ReplicaFactory,
  ) {}

  /** Restores every registered replica from the store (at host start). */
  load(): Promise<void> {
    this.loaded = this.loadAll();
    return this.loaded;
  }

  private async loadAll(): Promise<void> {
    for (const [key, value] of await this.store.listMeta(TOMB_PREFIX)) {
      this.tombstones.set(Number(key.slice(TOMB_PREFIX.length)), decodeTombstone(key, value));
    }
    for (const [key, value] of await this.store.listMeta(MEMBER_PREFIX)) {
      const info = decodeMemberInfo(key, value);
      const record = await this.store.loadGroup(info.groupId);
      this.attach(info, this.factory(info, { record }));
    }
  }

  get(groupId: number): LocalMember | undefined {
    return this.members.get(groupId);
  }

  /** The replicas here of groups named `group` (the latest one last). */
  named(group: string): readonly LocalMember[] {
    return this.byName.get(group) ?? [];
  }

  all(): IterableIterator<LocalMember> {
    return this.members.values();
  }

  get size(): number {
    return this.members.size;
  }

  /** The highest member serial deleted for the group on this host (0 if none). */
  tombstone(groupId: number): number {
    return this.tombstones.get(groupId) ?? 0;
  }

  /**
   * Registers and starts a replica. Founding members start from their first membership; others
   * start empty and learn everything from the leader. Refused for an id at or below the tombstone.
   */
  create(info: MemberInfo, founding: Membership | null, mayReplace: (existing: LocalMember) => boolean = () => true): Promise<LocalMember> {
    return this.locked(info.groupId, async () => {
      await this.loaded;
      const existing = this.members.get(info.groupId);
      if (existing?.member === info.member) return existing;
      if (existing !== undefined && !mayReplace(existing)) {
        throw new FlotillaError('BAD_ARGUMENT', `member ${existing.member} of group ${info.group} is newer than ${info.member}: a stale request`);
      }
      if (memberSerial(info.member) <= this.tombstone(info.groupId)) {
        throw new FlotillaError('BAD_ARGUMENT', `member ${info.member} of group ${info.group} was deleted here before`, {
          tombstone: this.tombstone(info.groupId),
        });
      }
      if (existing !== undefined) await this.deleteLocked(existing);
      const batch = this.store.newBatch();
      batch.setMeta(MEMBER_PREFIX + info.groupId, encoder.encode(JSON.stringify(info)));
      await this.store.write(batch, { sync: true });
      const from = founding !== null ? { founding } : { record: emptyRecord(info.groupId) };
      return this.attach(info, this.factory(info, from));
    });
  }

  /** Stops the replica and deletes its data, leaving a tombstone. */
  delete(groupId: number): Promise<void> {
    return this.locked(groupId, async () => {
      await this.loaded;
      const member = this.members.get(groupId);
      if (member !== undefined) await this.deleteLocked(member);
    });
  }

  private async deleteLocked(member: LocalMember): Promise<void> {
    this.members.delete(member.groupId);
    const others = this.named(member.group).filter((m) => m !== member);
    if (others.length > 0) this.byName.set(member.group, others);
    else this.byName.delete(member.group);
    await this.loop.removeGroup(member.groupId);
    member.replica.halt(new FlotillaError('NOT_LEADER', `group ${member.group} left this host`, { groupId: member.groupId, leader: '' }));
    const serial = Math.max(this.tombstone(member.groupId), memberSerial(member.member));
    const batch = this.store.newBatch();
    batch.deleteGroup(member.groupId);
    batch.deleteMeta(MEMBER_PREFIX + member.groupId);
    batch.setMeta(TOMB_PREFIX + member.groupId, encoder.encode(JSON.stringify({ serial })));
    await this.store.write(batch, { sync: true });
    this.tombstones.set(member.groupId, serial);
  }

  private attach(info: MemberInfo, replica: Replica): LocalMember {
    const member: LocalMember = { ...info, replica };
    this.members.set(info.groupId, member);
    this.byName.set(info.group, [...this.named(info.group), member]);
    this.loop.addGroup(replica);
    return member;
  }

  private locked<T>(groupId: number, run: () => Promise<T>): Promise<T> {
    const before = this.locks.get(groupId) ?? Promise.resolve();
    const result = before.then(run, run);
    const settled = result.catch(() => undefined);
    this.locks.set(groupId, settled);
    void settled.then(() => {
      if (this.locks.get(groupId) === settled) this.locks.delete(groupId);
    });
    return result;
  }
}

function emptyRecord(groupId: number): GroupRecord {
  return { groupId, hardState: { term: 0, vote: '', commit: 0 }, snapshot: null, entries: [], applied: 0 };
}

/** A tombstone record: the highest member serial deleted (STORAGE_CORRUPT if it is not one). */
function decodeTombstone(key: string, bytes: Uint8Array): number {
  const d = new Decode('STORAGE_CORRUPT', `the tombstone ${key}`);
  return d.int(d.object(d.json(bytes), '').serial, 'serial');
}

/** A member record (STORAGE_CORRUPT if it is not one). */
function decodeMemberInfo(key: string, bytes: Uint8Array): MemberInfo {
  const d = new Decode('STORAGE_CORRUPT', `the member record ${key}`);
  const o = d.object(d.json(bytes), '');
  d.int(o.groupId, 'groupId');
  for (const field of ['group', 'machine', 'member'] as const) d.string(o[field], field);
  return o as unknown as MemberInfo;
}
