// Wiring a HostLoop to a Transport for Raft traffic. HostLoop takes its `send` callback in its
// constructor, so the wiring comes in two halves:
//
//   const wiring = wireLoopToTransport(transport, IDENTITY_MEMBERS, scheduler);
//   const loop = new HostLoop({ store, tickMs, send: wiring.send });
//   const detach = wiring.attach(loop);
//
// Outgoing: each turn's messages become items queued to the host that owns `message.to`, then one
// flush() per turn, so each destination gets one frame per turn. Heartbeats and their responses are
// coalesced: every group's Heartbeat to one host in a turn travels as one 'heartbeat' item of packed
// arrays (likewise 'heartbeatResp'): bench/transport/heartbeats.ts measures a fifth of the codec time
// and a third of the bytes of separate messages (0.36 vs 1.9 us, 9 vs 31 bytes per beat). The
// other messages of a turn to one host (every group's appends, their responses, votes) travel as
// one 'raftPack' item (transport/raft-pack.ts), split only where a frame would overflow; a snapshot
// chunk, or a message of a member without a serial, is a 'raft' item of its own. Items the
// transport refuses (busy, unreachable) are dropped: Raft retransmits (and a leader whose append
// was dropped stops pipelining to that member); none is too large, as Raft's append and snapshot
// sizes derive from the frame (fleet/limits.ts), and a packed message is smaller than its 'raft'
// item. Incoming: 'raft' items and every message of a pack or beat of a coalesced item are stepped
// into their groups on the loop.
//
// State hashes (group/state-hash.ts) ride in coalesced heartbeat items too, in a field hosts that
// predate it ignore: the hashes announced while a turn finishes leave together once its code is
// done (a microtask), one item per destination host, with no beats of their own. They are best
// effort: one the transport refuses is not sent again (the next snapshot brings another).

import { assert } from '../common/assert.js';
import type { Scheduler } from '../common/scheduler.js';
import { MessageType, message, type Message, type NodeId } from '../raft/types.js';
import type { GroupBeat, GroupStateHash, HostId, Item, PackedMessage } from '../transport/items.js';
import { FEATURES, RAFT_PACK } from '../transport/features.js';
import { isPackable, packedBytes } from '../transport/raft-pack.js';
import type { SendStatus, Transport } from '../transport/transport.js';
import { BEAT_BYTES, STATE_HASH_BYTES, heartbeatOverheadBytes, maxBodyBytes, maxEnvelopeBytes } from '../transport/wire-size.js';
import type { HostLoop, Outgoing } from './host-loop.js';
import { cachedMembers, type MemberNaming } from './member-naming.js';

export { IDENTITY_MEMBERS, type MemberNaming } from './member-naming.js';

/** What the wiring needs of the loop: somewhere to step incoming messages. */
export type RaftReceiver = Pick<HostLoop, 'step' | 'unreachable'>;

/** A replica's state hash at an applied index (group/state-hash.ts StateHash). */
export interface StateHashReport {
  index: number;
  hash: string;
}

/** Takes a state hash of group `groupId` heard from host `from`. */
export type StateHashReceiver = (groupId: number, from: HostId, report: StateHashReport) => void;

export interface RaftWiring {
  /** Pass as HostLoopOptions.send. */
  readonly send: (messages: Outgoing[]) => void;
  /** Routes incoming Raft traffic to `loop`; returns a function that stops it. */
  attach(loop: RaftReceiver): () => void;
  /** Tells the hosts of members `to` this host's replica's state hash of group `groupId`. */
  announceStateHash(groupId: number, report: StateHashReport, to: NodeId[]): void;
  /** Where the state hashes heard from other hosts go. */
  onStateHash(receiver: StateHashReceiver): void;
  /**
   * Raft messages queued, refused (dropped; Raft retransmits) and received; `beats` of them
   * travelled in coalesced heartbeat items, `coalescedItems` such items were sent; `packed` of them
   * travelled in raft packs, `packItems` such items were sent.
   */
  readonly stats: { sent: number; refused: number; received: number; beats: number; coalescedItems: number; packed: number; packItems: number };
}

/** Beats per coalesced item at most (about 180 KB), fewer if the transport's frame holds fewer. */
const MAX_BEATS_PER_ITEM = 4096;

/** How many beats from `from` to `to` one item carries within a frame of `maxFrameBytes`. */
export function beatsPerItem(maxFrameBytes: number, from: HostId, to: HostId): number {
  const body = maxBodyBytes(maxEnvelopeBytes(maxFrameBytes));
  const overhead = heartbeatOverheadBytes(body, Math.max(Buffer.byteLength(from), Buffer.byteLength(to)));
  return Math.max(1, Math.min(MAX_BEATS_PER_ITEM, Math.floor((body - overhead) / BEAT_BYTES)));
}

/** State hashes per coalesced item at most, fewer if the transport's frame holds fewer. */
const MAX_HASHES_PER_ITEM = 1024;

/** How many state hashes from `from` to `to` one item carries within a frame of `maxFrameBytes`. */
export function hashesPerItem(maxFrameBytes: number, from: HostId, to: HostId): number {
  const body = maxBodyBytes(maxEnvelopeBytes(maxFrameBytes));
  const overhead = heartbeatOverheadBytes(body, Math.max(Buffer.byteLength(from), Buffer.byteLength(to)));
  return Math.max(1, Math.min(MAX_HASHES_PER_ITEM, Math.floor((body - overhead) / STATE_HASH_BYTES)));
}

/** One destination's packed messages of a turn, in chunks that each fit a pack item of `capacityBytes`. */
class PackBuilder {
  readonly chunks: PackedMessage[][] = [];
  private bytes = 0;

  constructor(private readonly capacityBytes: number) {}

  /** False when the message alone is bigger than a pack (it then travels as an item of its own). */
  add(p: PackedMessage): boolean {
    const size = packedBytes(p);
    if (size > this.capacityBytes) return false;
    const last = this.chunks[this.chunks.length - 1];
    if (last === undefined || this.bytes + size > this.capacityBytes) {
      this.chunks.push([p]);
      this.bytes = size;
    } else {
      last.push(p);
      this.bytes += size;
    }
    return true;
  }
}

/** Per destination host, this turn's heartbeats and heartbeat responses. */
interface PendingBeats {
  heartbeat: GroupBeat[];
  heartbeatResp: GroupBeat[];
}

/**
 * @param members how member ids map to hosts; messages to a member on this host are stepped
 * locally, in a later event-loop turn.
 * @param scheduler where that later turn comes from: the loop's own (the simulation's is virtual).
 */
export function wireLoopToTransport(transport: Transport, naming: MemberNaming, scheduler: Scheduler): RaftWiring {
  const members = cachedMembers(naming);
  let receiver: RaftReceiver | null = null;
  let hashReceiver: StateHashReceiver | null = null;
  const stats = { sent: 0, refused: 0, received: 0, beats: 0, coalescedItems: 0, packed: 0, packItems: 0 };
  /** State hashes announced since the last flush of them, per destination host. */
  const hashes = new Map<HostId, GroupStateHash[]>();
  let hashFlushQueued = false;

  /**
   * This turn's pack for host `to`, made at its first message; null when the host does not read
   * packs (a version that predates them gets 'raft' items). Its features are asked once a turn.
   */
  const packFor = (packs: Map<HostId, PackBuilder | null>, to: HostId): PackBuilder | null => {
    let pack = packs.get(to);
    if (pack === undefined) {
      const reads = ((transport.peerFeatures?.(to) ?? FEATURES) & RAFT_PACK) !== 0;
      pack = reads ? new PackBuilder(maxBodyBytes(maxEnvelopeBytes(transport.maxFrameBytes))) : null;
      packs.set(to, pack);
    }
    return pack;
  };

  /** The message for a pack, or null when it cannot travel in one (a snapshot chunk, a member without a serial). */
  const asPacked = (groupId: number, m: Message): PackedMessage | null => {
    if (!isPackable(m)) return null;
    const fromSerial = members.serialOf(m.from);
    const toSerial = members.serialOf(m.to);
    if (fromSerial === null || toSerial === null) return null;
    return { groupId, fromSerial, toSerial, message: m };
  };

  /** The message as a beat, or null when it is not a plain heartbeat (or response) with serials. */
  const asBeat = (groupId: number, m: Message): GroupBeat | null => {
    const isHeartbeat = m.type === MessageType.Heartbeat;
    if (!isHeartbeat && m.type !== MessageType.HeartbeatResp) return null;
    // A heartbeat carries only these fields; anything else set means it is not one we can rebuild.
    if (m.entries.length > 0 || m.index !== 0 || m.logTerm !== 0 || m.reject || m.rejectHint !== 0 || m.snapshot !== null) return null;
    if (!isHeartbeat && (m.commit !== 0 || m.force)) return null;
    const fromSerial = members.serialOf(m.from);
    const toSerial = members.serialOf(m.to);
    if (fromSerial === null || toSerial === null) return null;
    return { groupId, term: m.term, commit: m.commit, round: m.context, fromSerial, toSerial, quiesce: m.force };
  };

  const queue = (status: ReturnType<Transport['send']>, count: number): void => {
    if (status === 'queued') stats.sent += count;
    else stats.refused += count;
  };

  const send = (messages: Outgoing[]): void => {
    const local: Outgoing[] = [];
    const beats = new Map<HostId, PendingBeats>();
    const packs = new Map<HostId, PackBuilder | null>();
    for (const out of messages) {
      assert(out.message.from !== out.message.to, () => `a member never sends to itself: ${out.message.from} in group ${out.groupId}`);
      const to = members.hostOf(out.message.to);
      if (to === transport.hostId) {
        local.push(out);
        continue;
      }
      const beat = asBeat(out.groupId, out.message);
      if (beat !== null) {
        let pending = beats.get(to);
        if (pending === undefined) beats.set(to, (pending = { heartbeat: [], heartbeatResp: [] }));
        (out.message.type === MessageType.Heartbeat ? pending.heartbeat : pending.heartbeatResp).push(beat);
        continue;
      }
      const pack = packFor(packs, to);
      const packed = pack === null ? null : asPacked(out.groupId, out.message);
      if (pack !== null && packed !== null && pack.add(packed)) continue;
      sendItem(to, { kind: 'raft', groupId: out.groupId, message: out.message }, [out]);
    }
    for (const [to, pack] of packs) {
      for (const chunk of pack?.chunks ?? []) {
        const status = sendItem(to, { kind: 'raftPack', messages: chunk }, chunk);
        if (status === 'queued') {
          stats.packed += chunk.length;
          stats.packItems++;
        }
      }
    }
    for (const [to, pending] of beats) {
      const perItem = beatsPerItem(transport.maxFrameBytes, transport.hostId, to);
      for (const kind of ['heartbeat', 'heartbeatResp'] as const) {
        const all = pending[kind];
        for (let start = 0; start < all.length; start += perItem) {
          const chunk = all.slice(start, start + perItem);
          const status = transport.send(to, { kind, from: transport.hostId, to, beats: chunk });
          queue(status, chunk.length);
          if (status === 'queued') {
            stats.beats += chunk.length;
            stats.coalescedItems++;
          }
        }
      }
    }
    transport.flush();
    if (local.length > 0) {
      scheduler.soon(() => {
        for (const { groupId, message } of local) receiver?.step(groupId, message);
      });
    }
  };

  /** Sends an item of Raft messages `sent`; a dropped append or snapshot chunk makes its leader probe instead of pipelining into a full queue. */
  const sendItem = (to: HostId, item: Item, sent: ReadonlyArray<{ groupId: number; message: Message }>): SendStatus => {
    const status = transport.send(to, item);
    queue(status, sent.length);
    if (status !== 'queued') {
      for (const { groupId, message } of sent) {
        if (message.type === MessageType.Append || message.type === MessageType.Snapshot) receiver?.unreachable(groupId, message.to);
      }
    }
    return status;
  };

  const flushHashes = (): void => {
    hashFlushQueued = false;
    for (const [to, all] of hashes) {
      const perItem = hashesPerItem(transport.maxFrameBytes, transport.hostId, to);
      for (let start = 0; start < all.length; start += perItem) {
        transport.send(to, { kind: 'heartbeat', from: transport.hostId, to, beats: [], stateHashes: all.slice(start, start + perItem) });
      }
    }
    hashes.clear();
    transport.flush();
  };

  const announceStateHash = (groupId: number, report: StateHashReport, to: NodeId[]): void => {
    for (const member of to) {
      const host = members.hostOf(member);
      if (host === transport.hostId) continue;
      let pending = hashes.get(host);
      if (pending === undefined) hashes.set(host, (pending = []));
      pending.push({ groupId, index: report.index, hash: report.hash });
    }
    if (hashFlushQueued || hashes.size === 0) return;
    hashFlushQueued = true;
    queueMicrotask(flushHashes);
  };

  const attach = (loop: RaftReceiver): (() => void) => {
    receiver = loop;
    const unsubscribe = transport.onItem((from, item) => {
      if (item.kind === 'raft') {
        stats.received++;
        loop.step(item.groupId, item.message);
        return;
      }
      if (item.kind === 'raftPack') {
        // Named from the authenticated sender and this host, as beats are (below).
        for (const p of item.messages) {
          stats.received++;
          p.message.from = members.member(from, p.fromSerial);
          p.message.to = members.member(transport.hostId, p.toSerial);
          loop.step(p.groupId, p.message);
        }
        return;
      }
      if (item.kind !== 'heartbeat' && item.kind !== 'heartbeatResp') return;
      // Members are named from the authenticated sender and this host, never from the item's own
      // from/to fields: a peer cannot speak for another host's members.
      const type = item.kind === 'heartbeat' ? MessageType.Heartbeat : MessageType.HeartbeatResp;
      for (const b of item.beats) {
        stats.received++;
        loop.step(
          b.groupId,
          message({
            type,
            from: members.member(from, b.fromSerial),
            to: members.member(transport.hostId, b.toSerial),
            term: b.term,
            commit: type === MessageType.Heartbeat ? b.commit : 0,
            context: b.round,
            force: type === MessageType.Heartbeat && b.quiesce,
          }),
        );
      }
      for (const h of item.stateHashes ?? []) hashReceiver?.(h.groupId, from, { index: h.index, hash: h.hash });
    });
    return () => {
      unsubscribe();
      if (receiver === loop) receiver = null;
    };
  };

  const onStateHash = (r: StateHashReceiver): void => {
    hashReceiver = r;
  };

  return { send, attach, announceStateHash, onStateHash, stats };
}
