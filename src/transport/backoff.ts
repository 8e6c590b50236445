// Reconnect delays: exponential, capped, with jitter so that hosts that lost each other at the same
// moment do not redial in lockstep.

export interface BackoffOptions {
  /** Delay scale of the first attempt (default 100 ms). */
  initialMs: number;
  /** Cap on the delay (default 5 s). */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 100, maxMs: 5_000 };

/** The delay before attempt `attempt` (0-based): uniform in [ceiling/2, ceiling]. */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + (random() * ceiling) / 2;
}
