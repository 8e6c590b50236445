// Virtual time for the simulation: a priority queue of callbacks ordered by (time, insertion).
// Ties run in insertion order, so a run is a pure function of its seed.

interface Event {
  at: number;
  seq: number;
  run: () => void;
}

export class EventQueue {
  private heap: Event[] = [];
  private seq = 0;
  /** Current virtual time in milliseconds. */
  now = 0;

  at(time: number, run: () => void): void {
    this.push({ at: Math.max(time, this.now), seq: this.seq++, run });
  }

  after(delay: number, run: () => void): void {
    this.at(this.now + delay, run);
  }

  get size(): number {
    return this.heap.length;
  }

  /** Runs events until the queue is empty or the next one is after `until`. */
  runUntil(until: number, shouldStop: () => boolean = () => false): void {
    while (this.heap.length > 0 && this.heap[0]!.at <= until && !shouldStop()) {
      const e = this.pop();
      this.now = e.at;
      e.run();
    }
    if (this.now < until && !shouldStop()) this.now = until;
  }

  private push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  private pop(): Event {
    const h = this.heap;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Event, b: Event): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
