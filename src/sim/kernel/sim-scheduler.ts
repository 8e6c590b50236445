// Virtual time for the real host code. A SimClock is the world's one event queue; each simulated
// host gets its own SimScheduler on it (the Scheduler the host loop takes), so a host can be paused
// (its timers and deliveries wait) or crashed (everything it had pending is dropped) on its own.
//
// The host code is async: a turn awaits its store write, and a client awaits its reply. The memory
// store resolves its promises at once, so all that follows an event is microtasks; SimClock.run()
// lets them settle (one macrotask boundary) before the next event. Nothing else in the process may
// use real timers during a run, and then the order of everything is a pure function of the seed.

import type { Scheduler, Timer } from '../../common/scheduler.js';
import { EventQueue } from './event-queue.js';

/** Resolves once every promise chain started so far has run as far as it can without timers. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export interface RunOptions {
  /** Checked before each event: true ends the run early. */
  stop?: () => boolean;
  /** Called after each event once its microtasks settled (a place for invariant checks). */
  afterEvent?: () => void;
}

export class SimClock extends EventQueue {
  /** Events run so far. */
  executed = 0;

  override at(time: number, run: () => void): void {
    super.at(time, () => {
      this.executed++;
      run();
    });
  }

  /**
   * Runs events in time order, one at a time with a settle after each, until none is left at or
   * before `until` (the clock then reads `until`) or `stop()` holds. An event that throws ends the
   * run with that exception.
   */
  async run(until: number, options: RunOptions = {}): Promise<void> {
    for (;;) {
      if (options.stop?.() === true) return;
      const before = this.executed;
      // runUntil checks its stop condition before every event: this lets exactly one through.
      this.runUntil(until, () => this.executed > before);
      if (this.executed === before) return;
      await settle();
      options.afterEvent?.();
    }
  }
}

const NO_TIMER: Timer = { cancel: () => undefined };

/** One host's clock and timers on the shared SimClock. */
export class SimScheduler implements Scheduler {
  private paused = false;
  private halted = false;
  /** What came due while paused, in order. */
  private deferred: Array<() => void> = [];

  constructor(readonly clock: SimClock) {}

  now(): number {
    return this.clock.now;
  }

  after(ms: number, run: () => void): Timer {
    if (this.halted) return NO_TIMER;
    let cancelled = false;
    this.clock.after(ms, () =>
      this.runNow(() => {
        if (!cancelled) run();
      }),
    );
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  /** Like setInterval in a process that stalls: runs due while paused collapse into one. */
  every(ms: number, run: () => void): Timer {
    if (this.halted) return NO_TIMER;
    let cancelled = false;
    const fire = (): void => {
      if (cancelled) return;
      run();
      schedule();
    };
    const schedule = (): void => this.clock.after(ms, () => this.runNow(fire));
    schedule();
    return {
      cancel: () => {
        cancelled = true;
      },
    };
  }

  soon(run: () => void): void {
    if (this.halted) return;
    this.clock.at(this.clock.now, () => this.runNow(run));
  }

  /**
   * Runs `run` in this host now: at once if it is running, on resume if it is paused, never if it
   * crashed. Whatever reaches the host from outside (a frame, a client call) comes in through here.
   */
  runNow(run: () => void): void {
    if (this.halted) return;
    if (this.paused) this.deferred.push(run);
    else run();
  }

  /** The host stops running (a GC pause, SIGSTOP): nothing of it runs until resume(). */
  pause(): void {
    if (!this.halted) this.paused = true;
  }

  /** Everything that came due meanwhile runs now, in order, one event each. False if it was not paused. */
  resume(): boolean {
    if (!this.paused) return false;
    this.paused = false;
    const due = this.deferred;
    this.deferred = [];
    for (const run of due) this.soon(run);
    return true;
  }

  /** The host crashed: its pending timers and deliveries are dropped, and so is anything later. */
  halt(): void {
    this.halted = true;
    this.paused = false;
    this.deferred = [];
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get isHalted(): boolean {
    return this.halted;
  }
}
