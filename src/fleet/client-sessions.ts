// The sessions a router's commands carry, one per group: seqs handed out in order, and with each
// request `ackedBelow`, the lowest seq still unanswered, below which the group may forget replies.
//
// A group remembers at most maxRepliesPerSession replies per client (1,024 in a fleet); past
// that it forgets those of the lowest seqs and treats every seq up to them as stale, so a command
// still waiting for its answer would be refused "stale session sequence" when it applies. That
// cannot happen as long as a seq is handed out only while fewer than MAX_SESSION_SPAN seqs lie
// between it and ackedBelow: while seq Y awaits its answer, every seq handed out is below
// Y + MAX_SESSION_SPAN, so fewer than MAX_SESSION_SPAN replies above Y can be kept, and a trim
// reaches Y only past that many. One slow command (its leader died, a retry) holds ackedBelow
// back while later ones finish, so the span can fill while few commands are in flight: then a new
// command waits for the oldest to be answered, in order, within its deadline.

import { assert } from '../common/assert.js';
import { FlotillaError } from '../common/errors.js';
import { DEFAULT_MAX_REPLIES_PER_SESSION } from '../group/group.js';
import type { Scheduler } from '../common/scheduler.js';

/** Seqs from ackedBelow to the newest, at most: every group of a fleet keeps this many replies per client. */
export const MAX_SESSION_SPAN = DEFAULT_MAX_REPLIES_PER_SESSION;

export interface OpenSession {
  clientId: string;
  seq: number;
  /** The lowest seq without an answer yet. */
  ackedBelow(): number;
  /** The command has its outcome (or its caller gave up): its seq no longer holds ackedBelow back. */
  close(): void;
}

interface GroupSession {
  next: number;
  outstanding: Set<number>;
  /** Every seq below it is answered (seqs are handed out in order, so it only moves up). */
  low: number;
  /** Commands waiting for the span to shrink, oldest first: at most the router's calls in flight. */
  waiting: Array<() => void>;
}

export class ClientSessions {
  private readonly groups = new Map<string, GroupSession>();

  constructor(
    private readonly clientId: string,
    private readonly scheduler: Scheduler,
    private readonly maxSpan = MAX_SESSION_SPAN,
  ) {}

  /** The next seq of `group`'s session, once the span has room; TIMEOUT (nothing sent) if not by `deadline`. */
  open(group: string, deadline: number): Promise<OpenSession> {
    const s = this.session(group);
    if (s.waiting.length === 0 && this.hasRoom(s)) return Promise.resolve(this.take(s));
    return this.waitForRoom(s, group, deadline);
  }

  private take(s: GroupSession): OpenSession {
    const seq = s.next++;
    s.outstanding.add(seq);
    // Checked once seq is outstanding: advance() would otherwise move past it.
    assert(seq - this.advance(s) < this.maxSpan, () => `a seq is handed out only within the span of ackedBelow, or the group forgets a reply still awaited: seq ${seq}, ackedBelow ${s.low}, span ${this.maxSpan}`);
    return {
      clientId: this.clientId,
      seq,
      ackedBelow: () => this.advance(s),
      close: () => {
        s.outstanding.delete(seq);
        // Each waiter takes its seq as it wakes, so this stops once the span is full again.
        while (s.waiting.length > 0 && this.hasRoom(s)) s.waiting.shift()!();
      },
    };
  }

  private session(group: string): GroupSession {
    let s = this.groups.get(group);
    if (s === undefined) {
      s = { next: 1, outstanding: new Set(), low: 1, waiting: [] };
      this.groups.set(group, s);
    }
    return s;
  }

  /** Amortized O(1): a scan of every outstanding seq per request made a burst quadratic. */
  private advance(s: GroupSession): number {
    while (s.low < s.next && !s.outstanding.has(s.low)) s.low++;
    return s.low;
  }

  private hasRoom(s: GroupSession): boolean {
    return s.next - this.advance(s) < this.maxSpan;
  }

  private waitForRoom(s: GroupSession, group: string, deadline: number): Promise<OpenSession> {
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        timer.cancel();
        resolve(this.take(s));
      };
      const timer = this.scheduler.after(Math.max(0, deadline - this.scheduler.now()), () => {
        const at = s.waiting.indexOf(wake);
        if (at >= 0) s.waiting.splice(at, 1);
        reject(
          new FlotillaError('TIMEOUT', `group ${group}: no answer in time: the command waited for its session's oldest unanswered command (${this.maxSpan} seqs back) and was never sent`, {
            group,
            sent: false,
          }),
        );
      });
      s.waiting.push(wake);
    });
  }
}
