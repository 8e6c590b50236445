// The clients' side of a simulation: the history every operation is recorded in, and one
// operation from its call to its one outcome. Once the check phase has begun (checkStart), an
// operation that does not succeed is a liveness violation.

import { HistoryRecorder, type OpInput, type Output, type PendingOp } from '../../check/history.js';
import type { EventQueue } from './event-queue.js';

export type OpOutcome = 'ok' | 'fail' | 'unknown';

export class ClientBook {
  readonly recorder: HistoryRecorder;
  /** The id of the last operation called. */
  lastOpId = 0;
  okOps = 0;
  /** Virtual time from which every operation called must succeed. */
  checkStart = Infinity;

  /** `checkPhase` names what the check phase follows, for a liveness violation ('faults stopped'). */
  constructor(
    readonly clock: EventQueue,
    readonly violate: (what: string) => void,
    readonly checkPhase: string,
  ) {
    this.recorder = new HistoryRecorder(() => Math.round(clock.now * 1e6));
  }

  /** Calls an operation; `then` runs once it has its outcome. `via` names where it went, for a violation. */
  call(client: number, input: OpInput, then: (outcome: OpOutcome, output: Output) => void, via = ''): ClientOp {
    return new ClientOp(this, client, input, then, via);
  }
}

export class ClientOp {
  readonly id: number;
  readonly calledAt: number;
  private readonly pending: PendingOp;
  private done = false;

  constructor(
    private readonly book: ClientBook,
    readonly client: number,
    readonly input: OpInput,
    private readonly then: (outcome: OpOutcome, output: Output) => void,
    private readonly via: string,
  ) {
    this.id = ++book.lastOpId;
    this.pending = book.recorder.call(client, input);
    this.calledAt = book.clock.now;
  }

  get finished(): boolean {
    return this.done;
  }

  /** Records the outcome (the first one only; later ones are ignored). `why` explains a failure. */
  finish(outcome: OpOutcome, output: Output = null, why = ''): void {
    if (this.done) return;
    this.done = true;
    const { book, input } = this;
    if (outcome === 'ok') {
      book.recorder.ok(this.pending, output);
      book.okOps++;
    } else if (outcome === 'fail') book.recorder.fail(this.pending);
    else book.recorder.unknown(this.pending);
    if (outcome !== 'ok' && this.calledAt >= book.checkStart) {
      const via = this.via === '' ? '' : ` via ${this.via}`;
      book.violate(`liveness: client ${this.client} ${input.op} ${input.key}${via} did not succeed after ${book.checkPhase} (${outcome}${why === '' ? '' : `: ${why}`})`);
    }
    this.then(outcome, output);
  }
}
