// The WriteBatch every engine uses. It validates and encodes at once (so later changes to the
// caller's objects do not leak in) and records logical operations; turning the range operations
// (truncate, compact, delete group) into key deletes needs the stored log bounds, which the store
// knows only when it writes (see write-plan.ts).

import { FlotillaError } from '../common/errors.js';
import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { EntryType } from '../raft/types.js';
import {
  MAX_GROUP_ID,
  RecordKind,
  encodeApplied,
  encodeEntry,
  encodeHardState,
  encodeSnapshot,
  groupKey,
  metaKey,
} from './encoding.js';
import type { LogStore, WriteBatch } from './log-store.js';

/** Longest metadata key in UTF-8 bytes; keeps every engine within its key size limit. */
const MAX_META_KEY_BYTES = 1024;

export type LogicalOp =
  | { op: 'put'; key: Uint8Array; value: Uint8Array }
  | { op: 'del'; key: Uint8Array }
  /** Entry values for indexes first, first + 1, ...; replaces any stored entry from `first` on. */
  | { op: 'append'; groupId: number; first: number; values: Uint8Array[] }
  /** Delete log entries at or below `through`. */
  | { op: 'dropEntries'; groupId: number; through: number }
  | { op: 'dropGroup'; groupId: number };

export class KvWriteBatch implements WriteBatch {
  readonly ops: LogicalOp[] = [];
  private added = 0;

  /** The store whose `newBatch` made this batch: a batch only goes to its own store. */
  constructor(readonly owner: LogStore) {}

  get size(): number {
    return this.added;
  }

  appendEntries(groupId: number, entries: Entry[]): void {
    checkGroupId(groupId);
    const first = entries[0];
    if (first === undefined) return;
    const values = entries.map((entry, i) => {
      checkNumber('entry index', entry.index);
      if (entry.index !== first.index + i) {
        throw badArgument(`group ${groupId}: entries must have consecutive indexes, got ${entry.index} after ${first.index + i - 1}`);
      }
      checkNumber('entry term', entry.term);
      if (entry.type !== EntryType.Normal && entry.type !== EntryType.Config) {
        throw badArgument(`group ${groupId}: entry ${entry.index} has unknown type ${String(entry.type)}`);
      }
      return encodeEntry(entry);
    });
    this.push({ op: 'append', groupId, first: first.index, values });
  }

  setHardState(groupId: number, hardState: HardState): void {
    checkGroupId(groupId);
    checkNumber('term', hardState.term);
    checkNumber('commit', hardState.commit);
    this.push({ op: 'put', key: groupKey(groupId, RecordKind.HardState), value: encodeHardState(hardState) });
  }

  setSnapshot(groupId: number, snapshot: Snapshot, options: { keepEntries?: number } = {}): void {
    checkGroupId(groupId);
    checkNumber('snapshot index', snapshot.meta.index);
    checkNumber('snapshot term', snapshot.meta.term);
    const keep = options.keepEntries ?? 0;
    checkNumber('keepEntries', keep);
    // One operation for the caller, two for the planner.
    this.push({ op: 'put', key: groupKey(groupId, RecordKind.Snapshot), value: encodeSnapshot(snapshot) });
    this.ops.push({ op: 'dropEntries', groupId, through: snapshot.meta.index - keep });
  }

  setApplied(groupId: number, index: number): void {
    checkGroupId(groupId);
    checkNumber('applied index', index);
    this.push({ op: 'put', key: groupKey(groupId, RecordKind.Applied), value: encodeApplied(index) });
  }

  compact(groupId: number, index: number): void {
    checkGroupId(groupId);
    checkNumber('compact index', index);
    this.push({ op: 'dropEntries', groupId, through: index });
  }

  deleteGroup(groupId: number): void {
    checkGroupId(groupId);
    this.push({ op: 'dropGroup', groupId });
  }

  setMeta(key: string, value: Uint8Array): void {
    this.push({ op: 'put', key: checkedMetaKey(key), value: value.slice() });
  }

  deleteMeta(key: string): void {
    this.push({ op: 'del', key: checkedMetaKey(key) });
  }

  private push(op: LogicalOp): void {
    this.ops.push(op);
    this.added++;
  }
}

export function checkGroupId(groupId: number): void {
  if (!Number.isInteger(groupId) || groupId < 0 || groupId > MAX_GROUP_ID) {
    throw badArgument(`group id must be an integer in [0, 2^32), got ${groupId}`);
  }
}

function checkNumber(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw badArgument(`${what} must be a non-negative safe integer, got ${n}`);
}

function checkedMetaKey(name: string): Uint8Array {
  const key = metaKey(name);
  if (key.length - 1 > MAX_META_KEY_BYTES) {
    throw badArgument(`metadata key of ${key.length - 1} bytes exceeds ${MAX_META_KEY_BYTES}`);
  }
  return key;
}

function badArgument(message: string): FlotillaError {
  return new FlotillaError('BAD_ARGUMENT', message);
}
