// Helpers for group tests that must hold however often leadership moves (a loaded machine misses
// heartbeats and elects again): calls at the leader are retried while it is not the leader.

import { isFlotillaError } from '../../src/common/errors.js';
import type { GroupOptions } from '../../src/group/group.js';
import { type GroupTuning, type ListCommand, type ListGroup, type TestFleet, sleep, TICK_MS, waitFor } from '../loop/harness.js';

export type ListOptions = Partial<GroupOptions<string[], ListCommand, number, null>>;

/** The harness passes every group option through; its tuning type names only the ones it needs. */
export function tuning(options: ListOptions): GroupTuning {
  return options;
}

/**
 * Runs `call` at the current leader until it does not fail with NOT_LEADER (or BUSY while a
 * membership change or a transfer is under way). Only for calls that are safe to repeat then:
 * NOT_LEADER means the call did not take effect.
 */
export async function atLeader<T>(fleet: TestFleet, groupId: number, call: (leader: ListGroup) => T | Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const leader = fleet.leader(groupId);
    if (leader !== undefined) {
      try {
        return await call(leader);
      } catch (err) {
        if (!isFlotillaError(err, 'NOT_LEADER') && !isFlotillaError(err, 'BUSY')) throw err;
        if (Date.now() > deadline) throw err;
      }
    }
    if (Date.now() > deadline) throw new Error(`group ${groupId}: no leader in time`);
    await sleep(TICK_MS);
  }
}

/** Moves the group's leadership to `to` through Group.transferLeadership, asking again if a transfer is lost. */
export async function moveLeadership(fleet: TestFleet, groupId: number, to: string): Promise<void> {
  await waitFor(`${to} to lead group ${groupId}`, () => {
    const leader = fleet.leader(groupId);
    if (leader?.memberId === to) return true;
    if (leader !== undefined && leader.status().transferee !== to) {
      try {
        leader.transferLeadership(to);
      } catch (err) {
        if (!isFlotillaError(err, 'NOT_LEADER')) throw err;
      }
    }
    return false;
  });
}
