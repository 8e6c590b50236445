// The durable home of every group's Raft state on a host. One LogStore per host, shared by all
// of its groups, so one write batch with one sync makes a whole loop turn durable.
// Records are keyed by a numeric group id (assigned at group creation), never by group name.

import type { Entry, HardState, Snapshot } from '../raft/types.js';

/** Everything a group needs to restart: restore the snapshot, then replay `entries`. */
export interface GroupRecord {
  groupId: number;
  hardState: HardState;
  /** Latest snapshot, or null if the group never took or received one. */
  snapshot: Snapshot | null;
  /** Log entries, contiguous, in order: after the snapshot (or from index 1), or from up to keepEntries before it. */
  entries: Entry[];
  /** Highest index applied to the state machine that the driver recorded. */
  applied: number;
}

/**
 * The writes of one loop turn, for any number of groups. Applied atomically by `LogStore.write`,
 * in the order they were added. Arguments are checked and copied when added (a bad one throws
 * BAD_ARGUMENT), so the caller may reuse its objects at once.
 */
export interface WriteBatch {
  /**
   * Append entries; any stored entry at or after entries[0].index is replaced (log truncation).
   * Indexes must be consecutive; an empty list adds nothing. The log must stay contiguous: an
   * append starting beyond the stored last index + 1 makes `write` reject with BAD_ARGUMENT.
   */
  appendEntries(groupId: number, entries: Entry[]): void;
  setHardState(groupId: number, hardState: HardState): void;
  /**
   * Store a snapshot and delete every log entry at or below its index, or with `keepEntries`, at
   * or below its index - keepEntries (a tail kept behind the snapshot, so a restarted member can
   * still bring slightly lagging followers up to date from its log).
   */
  setSnapshot(groupId: number, snapshot: Snapshot, options?: { keepEntries?: number }): void;
  setApplied(groupId: number, index: number): void;
  /** Delete log entries at or below `index` (a compacted prefix). */
  compact(groupId: number, index: number): void;
  /** Delete every record of the group. */
  deleteGroup(groupId: number): void;
  /** Host-level metadata (group registry, host identity). Keys are at most 1024 UTF-8 bytes. */
  setMeta(key: string, value: Uint8Array): void;
  deleteMeta(key: string): void;
  /** Number of operations added so far. */
  readonly size: number;
}

export interface LogStore {
  /** Open (or create) the store. Refuses a data dir written by a newer format version. */
  open(): Promise<void>;
  /**
   * Waits for the writes and reads already accepted, then closes. A closed store (or one never
   * opened) rejects every call with STORAGE_UNAVAILABLE until opened again.
   */
  close(): Promise<void>;
  newBatch(): WriteBatch;
  /**
   * Apply a batch atomically. With sync, resolves only once it is durable, together with every
   * earlier write (so an empty batch with sync makes earlier unsynced writes durable). Writes
   * apply one at a time, in call order. After any write or sync error the store is failed: this
   * and every later write rejects with STORAGE_FAILED (until the store is opened again, after
   * the host restarted). A batch refused with BAD_ARGUMENT writes nothing and fails nothing.
   */
  write(batch: WriteBatch, options: { sync: boolean }): Promise<void>;
  /** Ids of every group with any record. */
  groupIds(): Promise<number[]>;
  /** Load a group for restart; a record that cannot be decoded throws STORAGE_CORRUPT naming it. */
  loadGroup(groupId: number): Promise<GroupRecord>;
  /** Entries in [from, to) of a group (for reading back a compacted-away range, this is empty). */
  entries(groupId: number, from: number, to: number): Promise<Entry[]>;
  /**
   * Entries in [from, to) of a group, read synchronously, stopping after the first whose data
   * takes the total past `maxBytes` (the Raft core's LogReader: entries it released from memory,
   * durable here). Throws STORAGE_UNAVAILABLE if the store is not open, STORAGE_CORRUPT for an
   * entry that does not decode.
   */
  readEntries(groupId: number, from: number, to: number, maxBytes: number): Entry[];
  getMeta(key: string): Promise<Uint8Array | undefined>;
  /** All metadata keys starting with prefix, with their values. */
  listMeta(prefix: string): Promise<Array<[string, Uint8Array]>>;
}

