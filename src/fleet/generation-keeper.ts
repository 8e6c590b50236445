// The durable side of fleet/generation.ts, in this host's store: the data directory's generation
// (loaded at start, advanced with a synced write, presented only once durable), what each peer
// presented (its PeerRecord, written with the next advance), and the mark a peer's stale verdict
// leaves, so every later start refuses at once without asking anyone.

import { FlotillaError } from '../common/errors.js';
import type { LogStore } from '../storage/log-store.js';
import {
  DecodeError,
  decodeGeneration,
  decodePeerGeneration,
  decodeStaleMark,
  encodeGeneration,
  encodePeerGeneration,
  encodeStaleMark,
} from '../storage/encoding.js';
import type { HostId } from '../transport/items.js';
import { staleDataDirError, type DataGeneration, type PeerRecord } from './generation.js';

/** Host metadata keys: the directory's generation, the stale mark, and one record per peer. */
export const GENERATION_KEY = 'generation';
const STALE_KEY = 'generation/stale';
const PEER_PREFIX = 'generation/peer/';

export function peerRecordKey(peer: HostId): string {
  return PEER_PREFIX + peer;
}

export interface KeeperOptions {
  host: HostId;
  /** The data directory's identity (its `host` record). */
  incarnation: string;
  /**
   * UNSAFE: start from a directory a peer found stale, and answer a stale verdict by adopting the
   * generation the peer recorded instead of stopping. The directory's missing writes may be lost.
   */
  acceptStale: boolean;
  /** A fresh random process id (below 2^53). */
  newProcess: () => number;
}

/** What status() shows of the generation. */
export interface GenerationStatus {
  floor: number;
  current: number;
  /** Per peer, the generation of its data directory this host has durably recorded. */
  peers: Record<HostId, number>;
}

export class GenerationKeeper {
  private process: number;
  private floor: number;
  private current: number;
  private readonly records = new Map<HostId, PeerRecord>();
  /** Each record's generation as last written: what a restart of this host holds against that peer. */
  private readonly stored = new Map<HostId, number>();
  /** Peers whose record changed since it was written. */
  private readonly dirty = new Set<HostId>();
  /** Peers that accepted this process (a pong with a verdict that is not stale). */
  private readonly acceptedBy = new Set<HostId>();
  /** Enough peers accepted this process: it may advance for the rest of its life. */
  private verified = false;
  /** Every write of the keeper, in order (so a rebase never races an advance). */
  private writes: Promise<void> = Promise.resolve();
  private writing = 0;

  private constructor(
    private readonly store: LogStore,
    private readonly options: KeeperOptions,
    generation: number,
  ) {
    this.process = options.newProcess();
    this.floor = generation;
    this.current = generation;
  }

  /**
   * Reads the generation, the peers' records and the stale mark. A marked directory is refused
   * (STORAGE_STALE) unless acceptStale: then it adopts the generation the peer recorded.
   */
  static async load(store: LogStore, options: KeeperOptions): Promise<GenerationKeeper> {
    const saved = await store.getMeta(GENERATION_KEY);
    let generation = saved === undefined ? 0 : decoded('generation', () => decodeGeneration(saved));
    const markBytes = await store.getMeta(STALE_KEY);
    if (markBytes !== undefined) {
      const mark = decoded('stale mark', () => decodeStaleMark(markBytes));
      if (!options.acceptStale) throw staleDataDirError(options.host, mark.peer, mark.recorded, mark.found);
      generation = Math.max(generation, mark.recorded);
      const batch = store.newBatch();
      batch.setMeta(GENERATION_KEY, encodeGeneration(generation));
      batch.deleteMeta(STALE_KEY);
      await store.write(batch, { sync: true });
    }
    const keeper = new GenerationKeeper(store, options, generation);
    for (const [key, value] of await store.listMeta(PEER_PREFIX)) {
      const record = decoded(`peer record ${key}`, () => decodePeerGeneration(value));
      const peer = key.slice(PEER_PREFIX.length);
      keeper.records.set(peer, record);
      keeper.stored.set(peer, record.generation);
    }
    return keeper;
  }

  /** What this host presents in its pings: only durable values. */
  presented(): DataGeneration {
    return { incarnation: this.options.incarnation, process: this.process, floor: this.floor, current: this.current };
  }

  record(peer: HostId): PeerRecord | undefined {
    return this.records.get(peer);
  }

  /** Keeps what `peer` presented; written with the next advance. */
  keep(peer: HostId, record: PeerRecord): void {
    const known = this.records.get(peer);
    if (known !== undefined && known.incarnation === record.incarnation && known.process === record.process && known.generation === record.generation) return;
    this.records.set(peer, record);
    this.dirty.add(peer);
  }

  /** `peer` answered a ping of this process with a verdict that is not stale; true the first time. */
  accepted(peer: HostId): boolean {
    if (this.acceptedBy.has(peer)) return false;
    this.acceptedBy.add(peer);
    return true;
  }

  /** Some peer accepted this process: it has been judged by one that could have refused it. */
  acceptedByAPeer(): boolean {
    return this.acceptedBy.size > 0;
  }

  /**
   * One period: the generation goes up by one if this process may advance, and the changed peer
   * records are written, in one synced write; the new generation is presented once durable.
   * `peers`: the fleet's other hosts that count (not inactive, not failed).
   */
  advance(peers: readonly HostId[]): Promise<void> {
    if (this.writing > 0) return Promise.resolve(); // a slow disk: this period is skipped, not queued
    const bump = this.mayAdvance(peers);
    const changed = [...this.dirty];
    if (!bump && changed.length === 0) return Promise.resolve();
    return this.serial(async () => {
      const next = this.current + 1;
      const batch = this.store.newBatch();
      if (bump) batch.setMeta(GENERATION_KEY, encodeGeneration(next));
      const written = changed.map((peer) => [peer, this.records.get(peer)!] as const);
      for (const [peer, record] of written) batch.setMeta(peerRecordKey(peer), encodePeerGeneration(record));
      for (const peer of changed) this.dirty.delete(peer);
      try {
        await this.store.write(batch, { sync: true });
      } catch (err) {
        for (const peer of changed) this.dirty.add(peer);
        throw err;
      }
      if (bump) this.current = next;
      for (const [peer, record] of written) this.stored.set(peer, record.generation);
    });
  }

  /** A peer found this directory stale: every later start refuses it (see load). */
  markStale(peer: HostId, recorded: number): Promise<void> {
    return this.serial(async () => {
      const batch = this.store.newBatch();
      batch.setMeta(STALE_KEY, encodeStaleMark({ peer, recorded, found: this.floor }));
      await this.store.write(batch, { sync: true });
    });
  }

  /**
   * acceptStale: a peer recorded `recorded`; this directory takes it as its generation and is
   * presented by a new process id, whose floor the peers then accept. Nothing if not above the floor.
   */
  rebase(recorded: number): Promise<void> {
    return this.serial(async () => {
      if (recorded <= this.floor) return;
      const generation = Math.max(this.current, recorded);
      const batch = this.store.newBatch();
      batch.setMeta(GENERATION_KEY, encodeGeneration(generation));
      await this.store.write(batch, { sync: true });
      this.process = this.options.newProcess();
      this.floor = generation;
      this.current = generation;
      this.acceptedBy.clear();
      this.verified = false;
    });
  }

  status(): GenerationStatus {
    return { floor: this.floor, current: this.current, peers: Object.fromEntries(this.stored) };
  }

  /**
   * At least half of the counted peers (and at least one) accepted this process. A copy put back
   * and accepted only by hosts that never heard it after the copy would otherwise advance behind
   * the backs of those that did, and a restart would then present a floor high enough to pass them.
   */
  private mayAdvance(peers: readonly HostId[]): boolean {
    if (!this.verified && peers.length > 0) this.verified = 2 * peers.filter((p) => this.acceptedBy.has(p)).length >= peers.length;
    return this.verified;
  }

  private serial(task: () => Promise<void>): Promise<void> {
    this.writing++;
    const run = this.writes.then(task).finally(() => this.writing--);
    this.writes = run.catch(() => undefined);
    return run;
  }
}

function decoded<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof DecodeError) throw new FlotillaError('STORAGE_CORRUPT', `the data directory's ${what} record does not decode: ${err.message}`);
    throw err;
  }
}
