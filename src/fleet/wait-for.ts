// Waiting for a condition of the host's own state (it is active, its members left, a recovered
// group committed), polled on the Scheduler so that the simulation waits on virtual time.

import { FlotillaError } from '../common/errors.js';
import type { Scheduler } from '../common/scheduler.js';

const POLL_MS = 10;

/**
 * Resolves once `condition()` holds; rejects with TIMEOUT after `timeoutMs`, or with what
 * `stopped(what)` returns once that is not null (the host stopped meanwhile).
 */
export function waitFor(scheduler: Scheduler, what: string, timeoutMs: number, condition: () => boolean, stopped: (what: string) => FlotillaError | null): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = scheduler.now() + timeoutMs;
    const check = () => {
      if (condition()) return resolve();
      const stop = stopped(what);
      if (stop !== null) return reject(stop);
      if (scheduler.now() >= deadline) return reject(new FlotillaError('TIMEOUT', `timed out after ${timeoutMs} ms waiting for ${what}`));
      scheduler.after(POLL_MS, check);
    };
    check();
  });
}
