// Time as the host sees it. Everything above the transport that waits (the host loop's tick
// timer, its next turn, request deadlines, the fleet's periodic passes) goes through a Scheduler,
// so the deterministic simulation can run the real host code on virtual time.

export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  /** Monotonic milliseconds. */
  now(): number;
  /** Runs `run` once, `ms` from now. */
  after(ms: number, run: () => void): Timer;
  /** Runs `run` every `ms`. */
  every(ms: number, run: () => void): Timer;
  /** Runs `run` after the work already queued (the next event-loop turn). */
  soon(run: () => void): void;
}

/** Node's clock and timers. */
export const realScheduler: Scheduler = {
  now: () => performance.now(),
  after(ms, run) {
    const t = setTimeout(run, ms);
    return { cancel: () => clearTimeout(t) };
  },
  every(ms, run) {
    const t = setInterval(run, ms);
    return { cancel: () => clearInterval(t) };
  },
  soon(run) {
    setImmediate(run);
  },
};
