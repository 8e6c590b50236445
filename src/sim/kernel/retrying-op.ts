// A client operation that goes to the node it believes leads, and tries again a little later while
// the answer is a certain "no" (not the leader, busy), until its deadline: then its outcome is
// unknown if an attempt may be in a log, else failed. Raft-sim and loop-sim clients work this way.

import { randomInt, type Random } from '../../raft/random.js';
import type { ClientOp } from './clients.js';
import type { EventQueue } from './event-queue.js';

/** A retry goes to the leader the last answer named with this chance, else to a random node. */
const FOLLOW_HINT_CHANCE = 0.9;
const RETRY_AFTER_MS = [5, 25] as const;

export class RetryingOp {
  /** Whether the current attempt may be in a log; only a certain "no" allows another. */
  mayHaveApplied = false;
  private target: string;
  private readonly deadline: number;
  private attempt: (target: string) => void = () => undefined;

  /** The first attempt goes to `randomTarget()` (drawn now). */
  constructor(
    readonly op: ClientOp,
    private readonly clock: EventQueue,
    private readonly random: Random,
    timeoutMs: number,
    private readonly randomTarget: () => string,
  ) {
    this.deadline = op.calledAt + timeoutMs;
    this.target = randomTarget();
  }

  /** Starts the attempts; each one calls `attempt` with its target. */
  start(attempt: (target: string) => void): void {
    this.attempt = attempt;
    this.clock.at(this.deadline, () => this.giveUp());
    this.next();
  }

  /** Tries again soon, at `known` (the leader an answer named, if it is a target) or at random. */
  retry(known: string | undefined): void {
    this.target = known !== undefined && this.random() < FOLLOW_HINT_CHANCE ? known : this.randomTarget();
    this.clock.after(randomInt(this.random, ...RETRY_AFTER_MS), () => this.next());
  }

  private next(): void {
    if (this.op.finished) return;
    if (this.clock.now >= this.deadline) return this.giveUp();
    this.attempt(this.target);
  }

  private giveUp(): void {
    this.op.finish(this.mayHaveApplied ? 'unknown' : 'fail');
  }
}
