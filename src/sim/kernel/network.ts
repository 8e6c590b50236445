// The simulated network: every message is delivered after a random delay (so messages reorder),
// or dropped, or delivered twice; partitions cut links in one or both directions.

import type { Random } from '../../raft/random.js';
import type { EventQueue } from './event-queue.js';

export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  minDelayMs: number;
  maxDelayMs: number;
}

export const RELIABLE: NetworkFaults = { dropRate: 0, duplicateRate: 0, minDelayMs: 1, maxDelayMs: 5 };

export class SimNetwork<M extends { from: string; to: string }> {
  faults: NetworkFaults = RELIABLE;
  /** Directed links that are cut, as "from>to". */
  private readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;

  /** `hostOf` maps a message's from/to to the host it lives on: partitions cut hosts apart. */
  constructor(
    private readonly queue: EventQueue,
    private readonly random: Random,
    private readonly deliver: (m: M) => void,
    private readonly hostOf: (id: string) => string = (id) => id,
  ) {}

  private link(m: M): string {
    return `${this.hostOf(m.from)}>${this.hostOf(m.to)}`;
  }

  send(m: M): void {
    this.sent++;
    if (this.cut.has(this.link(m)) || this.random() < this.faults.dropRate) {
      this.dropped++;
      return;
    }
    const copies = this.random() < this.faults.duplicateRate ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const { minDelayMs, maxDelayMs } = this.faults;
      const delay = minDelayMs + this.random() * (maxDelayMs - minDelayMs);
      // Whether the link is still up is decided on arrival: a partition also eats what is in flight.
      this.queue.after(delay, () => {
        if (!this.cut.has(this.link(m))) this.deliver(m);
      });
    }
  }

  /** Cuts every link between the two sides of hosts (one way only if `oneWay`: a -> b). */
  partition(a: readonly string[], b: readonly string[], oneWay = false): void {
    for (const x of a) {
      for (const y of b) {
        this.cut.add(`${x}>${y}`);
        if (!oneWay) this.cut.add(`${y}>${x}`);
      }
    }
  }

  /** Whether messages from host a reach host b (no partition cuts them). */
  linked(a: string, b: string): boolean {
    return !this.cut.has(`${a}>${b}`);
  }

  heal(): void {
    this.cut.clear();
  }

  get partitioned(): boolean {
    return this.cut.size > 0;
  }
}
