// The random client operations on a register key (put, get, append, cas) and on a counter key
// (incr, get, reset) that the simulations' clients run. Values are unique: `client.opId`.

import type { OpInput } from '../../check/history.js';
import { randomInt, type Random } from '../../raft/random.js';

/** A cas expects the value a read would most plausibly see with this chance, else one never written. */
const PLAUSIBLE_CAS_CHANCE = 0.8;

/** `plausible()` is what a read of the key would most plausibly return (asked for a cas only). */
export function registerOp(random: Random, client: number, opId: number, key: string, plausible: () => string | null): OpInput {
  const value = `${client}.${opId}`;
  switch (randomInt(random, 0, 4)) {
    case 0:
      return { op: 'put', key, value };
    case 1:
      return { op: 'get', key };
    case 2:
      return { op: 'append', key, value: `${value};` };
    default: {
      // Asked before the draw, as it may move the simulation (raft-sim's leader() catches cores up).
      const current = plausible();
      return { op: 'cas', key, expected: random() < PLAUSIBLE_CAS_CHANCE ? current : `${client}.0`, value };
    }
  }
}

/** 60% increments of 1-4, 30% gets, 10% resets. */
export function counterOp(random: Random, key: string): OpInput {
  const kind = randomInt(random, 0, 10);
  if (kind < 6) return { op: 'incr', key, n: randomInt(random, 1, 5) };
  if (kind < 9) return { op: 'get', key };
  return { op: 'reset', key };
}
