// A bound on one caller's requests in flight, with back-pressure: at most maxInFlight calls run at
// once; the others wait their turn in a FIFO queue of at most maxQueued calls, and a call beyond
// that is refused BUSY at once. Each waiting call keeps its own deadline: one that passes while it
// waits leaves the queue and fails TIMEOUT, never having been sent. So a burst becomes a queue:
// 100,000 commands fired at once by one client used to go out together, overflow the transport's
// queue to the leader (about 90,000 BUSY) and the group's pending commands (10,000 TIMEOUT), and
// stall the client until the hosts dropped it (issue 14).
//
// A call's work starts only once it has a slot, so its payload is encoded then, not when it was
// queued: a queued call holds its value, and no burst encodes or sends everything in one go.

import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import type { Scheduler, Timer } from '../common/scheduler.js';

export interface WindowLimits {
  /** Calls running at once, at most (each has at most one request on the wire). */
  maxInFlight: number;
  /** Calls waiting for a slot, at most; one more is refused BUSY. */
  maxQueued: number;
}

/** One client's (or host's) share of a group's maxPendingCommands (1,024 by default). */
export const DEFAULT_MAX_IN_FLIGHT = 1024;
/**
 * A burst of this many calls waits rather than fails. A waiting call costs about 2 KB besides its
 * value (its promises, closures and deadline timer), so this bound is about 200 MB at worst.
 */
export const DEFAULT_MAX_QUEUED = 100_000;

export interface WindowStats {
  inFlight: number;
  queued: number;
  /** The most calls ever running at once: never above maxInFlight. */
  peakInFlight: number;
  peakQueued: number;
  /** Calls that got a slot. */
  started: number;
  /** Calls whose deadline passed while they waited (never sent). */
  timedOutQueued: number;
  /** Calls refused BUSY because the queue was full. */
  refusedQueueFull: number;
}

interface Waiter {
  deadline: number;
  timeoutMs: number;
  start(): void;
  fail(err: FlotillaError): void;
  timer: Timer | null;
  /** In the queue (a waiter leaves it once: started, timed out or failed by close). */
  waiting: boolean;
  prev: Waiter | null;
  next: Waiter | null;
}

export class RequestWindow {
  private inFlight = 0;
  private queued = 0;
  /** The wait queue, oldest first: a linked list, so a call that times out leaves it in O(1). */
  private head: Waiter | null = null;
  private tail: Waiter | null = null;
  private closedWith: FlotillaError | null = null;
  private readonly counters = { peakInFlight: 0, peakQueued: 0, started: 0, timedOutQueued: 0, refusedQueueFull: 0 };

  constructor(
    readonly limits: WindowLimits,
    private readonly scheduler: Scheduler,
  ) {
    checkWindowLimits(limits);
  }

  /**
   * Runs `work` once a slot is free, with what is left of `timeoutMs` by then; rejects BUSY at once
   * if the queue is full, TIMEOUT if the deadline passes first, the close error once closed.
   */
  run<T>(timeoutMs: number, work: (remainingMs: number) => Promise<T>): Promise<T> {
    if (this.closedWith !== null) return Promise.reject(this.closedWith);
    const deadline = this.scheduler.now() + timeoutMs;
    if (this.inFlight < this.limits.maxInFlight && this.head === null) return this.start(deadline, work);
    if (this.queued >= this.limits.maxQueued) {
      this.counters.refusedQueueFull++;
      return Promise.reject(
        new FlotillaError('BUSY', `${this.queued} calls already wait for one of maxInFlight (${this.limits.maxInFlight}) slots: the queue holds at most maxQueued (${this.limits.maxQueued}); not sent`, { sent: false }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const waiter: Waiter = {
        deadline,
        timeoutMs,
        start: () => this.start(deadline, work).then(resolve, reject),
        fail: reject,
        timer: null,
        waiting: false,
        prev: null,
        next: null,
      };
      waiter.timer = this.scheduler.after(Math.max(0, timeoutMs), () => {
        if (!waiter.waiting) return;
        this.unlink(waiter);
        this.expire(waiter);
      });
      this.push(waiter);
    });
  }

  /** Fails every waiting call with `err`, and every later one; calls running finish as they do. */
  close(err: FlotillaError): void {
    this.closedWith = err;
    for (let w = this.shift(); w !== null; w = this.shift()) {
      w.timer?.cancel();
      w.fail(err);
    }
  }

  stats(): WindowStats {
    return { inFlight: this.inFlight, queued: this.queued, ...this.counters };
  }

  private start<T>(deadline: number, work: (remainingMs: number) => Promise<T>): Promise<T> {
    this.inFlight++;
    assert(this.inFlight <= this.limits.maxInFlight, () => `a request window runs at most maxInFlight calls: ${this.inFlight} of ${this.limits.maxInFlight}`);
    this.counters.started++;
    this.counters.peakInFlight = Math.max(this.counters.peakInFlight, this.inFlight);
    let running: Promise<T>;
    try {
      running = work(Math.max(1, deadline - this.scheduler.now()));
    } catch (err) {
      running = Promise.reject(err);
    }
    return running.finally(() => this.release());
  }

  /** A slot is free: the oldest waiter still within its deadline takes it. */
  private release(): void {
    this.inFlight--;
    for (let next = this.shift(); next !== null; next = this.shift()) {
      next.timer?.cancel();
      // Its timer is due but has not run yet (timers run late on a busy loop).
      if (next.deadline <= this.scheduler.now()) {
        this.expire(next);
        continue;
      }
      next.start();
      return;
    }
  }

  private expire(w: Waiter): void {
    this.counters.timedOutQueued++;
    w.fail(queuedTooLong(w.timeoutMs, this.limits.maxInFlight));
  }

  private push(w: Waiter): void {
    w.waiting = true;
    w.prev = this.tail;
    if (this.tail === null) this.head = w;
    else this.tail.next = w;
    this.tail = w;
    this.queued++;
    this.counters.peakQueued = Math.max(this.counters.peakQueued, this.queued);
  }

  private shift(): Waiter | null {
    const w = this.head;
    if (w !== null) this.unlink(w);
    return w;
  }

  private unlink(w: Waiter): void {
    w.waiting = false;
    if (w.prev === null) this.head = w.next;
    else w.prev.next = w.next;
    if (w.next === null) this.tail = w.prev;
    else w.next.prev = w.prev;
    w.prev = null;
    w.next = null;
    this.queued--;
  }
}

/** Throws BAD_ARGUMENT unless both limits are positive integers. */
export function checkWindowLimits(limits: WindowLimits): void {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || (value as number) < 1) throw new FlotillaError('BAD_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`);
  }
}

/** The limits `options` asks for, the defaults where it says nothing. */
export function windowLimits(options: { maxInFlight?: number | undefined; maxQueued?: number | undefined }): WindowLimits {
  return { maxInFlight: options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT, maxQueued: options.maxQueued ?? DEFAULT_MAX_QUEUED };
}

function queuedTooLong(timeoutMs: number, maxInFlight: number): FlotillaError {
  return new FlotillaError(
    'TIMEOUT',
    `no answer in time: the call waited its whole ${timeoutMs} ms for one of maxInFlight (${maxInFlight}) slots and was never sent, so it was not applied`,
    { sent: false },
  );
}
