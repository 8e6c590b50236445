// One destination's bounded queue of encoded items, drained into frames by flush(). Bounded in
// items and in bytes: when the network (or the peer) cannot keep up, the queue fills and send()
// answers busy instead of letting memory grow.
import { FRAME_OVERHEAD, envelopeCost, packFrame } from './codec.js';

export class Outbox {
  private envelopes: Uint8Array[] = [];
  private bytes = 0;

  constructor(
    private readonly maxItems: number,
    private readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.envelopes.length;
  }

  isFull(): boolean {
    return this.envelopes.length >= this.maxItems;
  }

  /** False (and nothing queued) when the item would exceed a bound. */
  push(envelope: Uint8Array): boolean {
    const cost = envelopeCost(envelope);
    if (this.isFull() || this.bytes + cost > this.maxBytes) return false;
    this.envelopes.push(envelope);
    this.bytes += cost;
    return true;
  }

  /** Empties the queue; returns how many items it held. */
  clear(): number {
    const n = this.envelopes.length;
    this.envelopes = [];
    this.bytes = 0;
    return n;
  }

  /**
   * Empties the queue into frames of at most maxFrameBytes each: one frame unless the queue is
   * bigger than that. Every envelope fits a frame on its own (send() refuses larger ones).
   */
  takeFrames(maxFrameBytes: number): Uint8Array[] {
    const frames: Uint8Array[] = [];
    let start = 0;
    let size = FRAME_OVERHEAD;
    for (let i = 0; i < this.envelopes.length; i++) {
      const cost = envelopeCost(this.envelopes[i] as Uint8Array);
      if (size + cost > maxFrameBytes && i > start) {
        frames.push(packFrame(this.envelopes.slice(start, i)));
        start = i;
        size = FRAME_OVERHEAD;
      }
      size += cost;
    }
    if (start < this.envelopes.length) frames.push(packFrame(start === 0 ? this.envelopes : this.envelopes.slice(start)));
    this.clear();
    return frames;
  }
}
