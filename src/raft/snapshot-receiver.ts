// Assembles a snapshot that arrives in chunks. Chunks are accepted strictly in order; a chunk at
// any other offset is answered with the offset we expect, so the leader resends from there.
// Duplicates and reordering (the network does both) therefore never corrupt the result.

import type { Snapshot, SnapshotChunk, SnapshotMeta } from './types.js';

export class SnapshotReceiver {
  private meta: SnapshotMeta | null = null;
  private total = 0;
  private received = 0;
  private chunks: Uint8Array[] = [];

  /**
   * Takes one chunk. Returns the whole snapshot once its last byte arrived, otherwise the offset
   * the sender should continue from.
   */
  accept(chunk: SnapshotChunk): { done: Snapshot } | { next: number } {
    const same = this.meta !== null && this.meta.index === chunk.meta.index && this.meta.term === chunk.meta.term;
    if (!same) {
      // Only the start of a snapshot may replace the one we are assembling.
      if (chunk.offset !== 0) return { next: 0 };
      this.meta = chunk.meta;
      this.total = chunk.total;
      this.received = 0;
      this.chunks = [];
    }
    if (chunk.offset !== this.received || chunk.total !== this.total) return { next: this.received };
    this.chunks.push(chunk.data);
    this.received += chunk.data.length;
    if (this.received < this.total) return { next: this.received };
    const data = concat(this.chunks, this.total);
    const meta = this.meta!;
    this.reset();
    return { done: { meta, data } };
  }

  /** The index of the snapshot being assembled, if any. */
  get index(): number {
    return this.meta?.index ?? 0;
  }

  reset(): void {
    this.meta = null;
    this.total = 0;
    this.received = 0;
    this.chunks = [];
  }
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]!.length === total) return chunks[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
