// Turns a batch's logical operations into plain key puts and deletes, in order, so that any engine
// can apply them as one atomic batch. Range deletes become one delete per stored index: the store
// tracks each group's log bounds, so the planner knows exactly which keys exist without reading.
// (RocksDB's native range delete is not in the batches of the `@nxtedition/rocksdb` binding, and
// its clear() is not part of a batch, so it cannot be atomic with the rest of the turn.)

import { FlotillaError } from '../common/errors.js';
import { RecordKind, entryKey, groupKey } from './encoding.js';
import type { KvOp } from './kv-backend.js';
import type { LogicalOp } from './write-batch.js';

/** First and last stored log index of a group, or null when it has no entries. */
export type LogBounds = { first: number; last: number } | null;

/** Groups whose log bounds the planner needs. */
export function groupsWithLogChanges(ops: readonly LogicalOp[]): Set<number> {
  const groups = new Set<number>();
  for (const op of ops) if (op.op !== 'put' && op.op !== 'del') groups.add(op.groupId);
  return groups;
}

/**
 * Plans the key operations of a batch. `bounds` must hold every group of groupsWithLogChanges;
 * it is updated to the bounds after the batch. Throws BAD_ARGUMENT, before anything is written,
 * if an append would leave a gap after a group's stored log.
 */
export function planWrite(ops: readonly LogicalOp[], bounds: Map<number, LogBounds>): KvOp[] {
  const out: KvOp[] = [];
  const deleteEntries = (groupId: number, from: number, through: number): void => {
    for (let index = from; index <= through; index++) out.push({ type: 'del', key: entryKey(groupId, index) });
  };

  for (const op of ops) {
    switch (op.op) {
      case 'put':
        out.push({ type: 'put', key: op.key, value: op.value });
        break;
      case 'del':
        out.push({ type: 'del', key: op.key });
        break;
      case 'append': {
        const b = bounds.get(op.groupId) ?? null;
        const last = op.first + op.values.length - 1;
        if (b !== null && op.first > b.last + 1) {
          throw new FlotillaError(
            'BAD_ARGUMENT',
            `group ${op.groupId}: appending at index ${op.first} would leave a gap after stored index ${b.last}`,
            { groupId: op.groupId, index: op.first },
          );
        }
        if (b !== null && op.first <= b.last) deleteEntries(op.groupId, Math.max(op.first, b.first), b.last);
        op.values.forEach((value, i) => out.push({ type: 'put', key: entryKey(op.groupId, op.first + i), value }));
        bounds.set(op.groupId, { first: b === null ? op.first : Math.min(b.first, op.first), last });
        break;
      }
      case 'dropEntries': {
        const b = bounds.get(op.groupId) ?? null;
        if (b === null || op.through < b.first) break;
        deleteEntries(op.groupId, b.first, Math.min(op.through, b.last));
        bounds.set(op.groupId, op.through >= b.last ? null : { first: op.through + 1, last: b.last });
        break;
      }
      case 'dropGroup': {
        const b = bounds.get(op.groupId) ?? null;
        for (const kind of [RecordKind.HardState, RecordKind.Applied, RecordKind.Snapshot]) {
          out.push({ type: 'del', key: groupKey(op.groupId, kind) });
        }
        if (b !== null) deleteEntries(op.groupId, b.first, b.last);
        bounds.set(op.groupId, null);
        break;
      }
    }
  }
  return out;
}
