// The Raft log as one member sees it: entries after a compaction offset, with the marks that
// tell the driver what to persist (`stable`) and to apply (`committed`, `applied`).
//
// Without a LogReader the whole uncompacted log lives in memory, bounded by snapshots. With one,
// entries that are durable and applied here (and, on a leader, held by every member in touch)
// can be released (release()): only their terms stay in memory, and configuration entries whole,
// and slice() reads the rest back through the reader when a member that fell behind needs them.
// A host of 1,000 groups then holds what is in flight, not up to a snapshot interval each.
//
//   offset | released: terms only (offset, released] | entries: whole (released, last]

import { assert } from './assert.js';
import { EntryType, type Entry, type LogReader } from './types.js';

export class RaftLog {
  /** Index of the last compacted entry (0 if none). */
  private offset: number;
  /** Term of the entry at `offset`, or -1 when it is not known (then probes there need a snapshot). */
  private offsetTerm: number;
  /** Index of the last entry released from memory (>= offset); entries[0] has index released + 1. */
  private released: number;
  /** Terms of the released entries: releasedTerms[0] is the term at offset + 1. */
  private releasedTerms: number[] = [];
  /** The configuration entries among the released ones, oldest first (membership scans need them). */
  private releasedConfigs: Entry[] = [];
  private entries: Entry[];
  private readonly reader: LogReader | undefined;
  /** Highest index known to be durable on this member. */
  stable: number;
  /** Highest index handed to the driver for persisting (≥ stable while a write is in flight). */
  persisting: number;
  committed: number;
  /** Highest index handed to the driver for applying. */
  applying: number;
  /** Highest index the driver confirmed applied. */
  applied: number;

  constructor(offset: number, offsetTerm: number, entries: Entry[], committed: number, applied: number, reader?: LogReader) {
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === offset + 1 + i, 'log entries must be contiguous after the offset');
    }
    this.offset = offset;
    this.offsetTerm = offsetTerm;
    this.released = offset;
    this.entries = entries;
    this.reader = reader;
    this.stable = this.lastIndex();
    this.persisting = this.stable;
    assert(committed <= this.lastIndex(), `commit ${committed} beyond last index ${this.lastIndex()}`);
    assert(applied <= committed || applied === offset, 'applied beyond commit');
    this.committed = Math.max(committed, offset);
    this.applied = Math.max(applied, offset);
    this.applying = this.applied;
  }

  firstIndex(): number {
    return this.offset + 1;
  }

  lastIndex(): number {
    return this.released + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at index, or undefined if compacted away or not yet written. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm >= 0 ? this.offsetTerm : undefined;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    if (index <= this.released) return this.releasedTerms[index - this.offset - 1]!;
    return this.entries[index - this.released - 1]!.term;
  }

  /** The entry at index (read back if it was released), or undefined if compacted away or not written. */
  entry(index: number): Entry | undefined {
    if (index <= this.offset || index > this.lastIndex()) return undefined;
    if (index <= this.released) return this.readBack(index, index + 1, 0)[0];
    return this.entries[index - this.released - 1];
  }

  matchTerm(index: number, term: number): boolean {
    if (index === 0) return term === 0;
    return this.term(index) === term;
  }

  /** Raft's up-to-date rule (§5.4.1): is a log ending at (index, term) at least as new as ours? */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /**
   * Entries in [from, to) of at most `maxBytes` in all, each entry counted as its data plus
   * `perEntryBytes` (but always at least one entry). Undefined if `from` was compacted away.
   */
  slice(from: number, to: number, maxBytes = Infinity, perEntryBytes = 0): Entry[] | undefined {
    if (from <= this.offset) return undefined;
    const end = Math.min(to, this.lastIndex() + 1);
    if (from >= end) return [];
    const out: Entry[] = [];
    let bytes = 0;
    let i = from;
    if (from <= this.released) {
      for (const e of this.readBack(from, Math.min(end, this.released + 1), maxBytes)) {
        bytes += e.data.length + perEntryBytes;
        if (out.length > 0 && bytes > maxBytes) return out;
        out.push(e);
        i++;
      }
      if (i <= this.released) return out; // the bytes ran out within what was read back
    }
    for (; i < end; i++) {
      const e = this.entries[i - this.released - 1]!;
      bytes += e.data.length + perEntryBytes;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /**
   * Released entries in [from, to), read back through the reader, up to `maxBytes` of data (at
   * least one). Checked against the terms kept: anything else read back is a broken store.
   */
  private readBack(from: number, to: number, maxBytes: number): Entry[] {
    assert(this.reader !== undefined && this.offset < from && from < to && to <= this.released + 1, () => `read back [${from}, ${to}) of released (${this.offset}, ${this.released}]`);
    const read = this.reader(from, to, maxBytes);
    assert(read.length > 0, () => `the store returned none of the released entries [${from}, ${to})`);
    let bytes = 0;
    for (let k = 0; k < read.length; k++) {
      const e = read[k]!;
      assert(e.index === from + k && e.index < to && e.term === this.releasedTerms[e.index - this.offset - 1], () => `the store returned entry ${e.index} (term ${e.term}) for released index ${from + k} (term ${this.releasedTerms[from + k - this.offset - 1]})`);
      bytes += e.data.length;
    }
    assert(read.length === to - from || bytes > maxBytes, () => `the store returned ${read.length} of the released entries [${from}, ${to}), within the ${maxBytes} bytes asked for`);
    return read;
  }

  /**
   * Drops from memory the data of entries up to `index` (durable and applied here; the caller
   * knows no member it is in touch with still needs them): terms and configuration entries stay.
   * Without a reader, nothing is released.
   */
  release(index: number): void {
    if (this.reader === undefined) return;
    const upTo = Math.min(index, this.stable, this.applied);
    if (upTo <= this.released) return;
    const count = upTo - this.released;
    for (let k = 0; k < count; k++) {
      const e = this.entries[k]!;
      this.releasedTerms.push(e.term);
      if (e.type === EntryType.Config) this.releasedConfigs.push(e);
    }
    this.entries.splice(0, count);
    this.released = upTo;
  }

  /** Index of the last entry released from memory (its data is read back when needed). */
  get releasedTo(): number {
    return this.released;
  }

  /** Appends entries as a leader does (they always follow the last index). */
  append(entries: Entry[]): void {
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, () => `append at ${e.index} after last ${this.lastIndex()}`);
      this.entries.push(e);
    }
  }

  /**
   * The follower side of AppendEntries (§5.3): if our log matches (prevIndex, prevTerm), skip the
   * entries we already have, truncate at the first conflict and append the rest. Returns the index
   * of the last new entry, or undefined on mismatch. Returns the truncation point via `onTruncate`.
   */
  maybeAppend(prevIndex: number, prevTerm: number, entries: Entry[], onTruncate: (from: number) => void): number | undefined {
    // Committed entries are the same in every leader's log (Leader Completeness), so a previous
    // entry at or below our commit matches even where we no longer know its term.
    if (prevIndex > this.committed && !this.matchTerm(prevIndex, prevTerm)) return undefined;
    const last = prevIndex + entries.length;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.index <= this.offset) continue;
      const ours = this.term(e.index);
      if (ours === e.term) continue;
      if (ours !== undefined) {
        assert(e.index > this.committed, `conflict at committed index ${e.index}`);
        this.truncateFrom(e.index);
        onTruncate(e.index);
      }
      this.append(entries.slice(i));
      break;
    }
    return last;
  }

  private truncateFrom(index: number): void {
    // Released entries are applied, so committed: a conflict is always after them.
    assert(index > this.released, () => `truncating at ${index}, within the released entries (up to ${this.released})`);
    this.entries.length = index - this.released - 1;
    this.stable = Math.min(this.stable, index - 1);
    this.persisting = Math.min(this.persisting, index - 1);
  }

  /**
   * The largest index ≤ `index` whose term is ≤ `term` (fast backtracking: one round trip skips a
   * whole conflicting term). Stops at the offset if the term there is unknown.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (; i > this.offset; i--) {
      const t = this.term(i)!;
      if (t <= term) return { index: i, term: t };
    }
    return { index: i, term: this.term(i) ?? 0 };
  }

  commitTo(index: number): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  /** Entries newer than what was handed out for persisting. */
  unpersisted(): Entry[] {
    assert(this.persisting >= this.released, () => `entries handed out for persisting (${this.persisting}) are never released unwritten (${this.released})`);
    return this.entries.slice(this.persisting - this.released);
  }

  /** Committed entries not yet handed out for applying (only those already durable here); null: none. */
  unapplied(maxBytes: number): Entry[] | null {
    const to = Math.min(this.committed, this.lastIndex());
    if (this.applying >= to) return null;
    return this.slice(this.applying + 1, to + 1, maxBytes) ?? null;
  }

  /** The driver has made durable every entry up to index with this term. */
  stableTo(index: number, term: number): void {
    if (this.term(index) === term && index > this.stable) this.stable = index;
  }

  /** Drops entries up to `index` (covered by a snapshot) from memory. */
  compactTo(index: number): void {
    if (index <= this.offset) return;
    assert(index <= this.applied, () => `compacting ${index} beyond applied ${this.applied}`);
    const term = this.term(index)!;
    if (index <= this.released) {
      this.releasedTerms = this.releasedTerms.slice(index - this.offset);
    } else {
      this.entries = this.entries.slice(index - this.released);
      this.releasedTerms = [];
      this.released = index;
    }
    this.releasedConfigs = this.releasedConfigs.filter((e) => e.index > index);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** Replaces the whole log by a snapshot's position (an installed snapshot). */
  restore(index: number, term: number): void {
    this.entries = [];
    this.released = index;
    this.releasedTerms = [];
    this.releasedConfigs = [];
    this.offset = index;
    this.offsetTerm = term;
    this.committed = index;
    this.stable = index;
    this.persisting = index;
    this.applying = index;
    this.applied = index;
  }

  /** Index of the last entry dropped by compaction (0 if none). */
  get compactedTo(): number {
    return this.offset;
  }

  /**
   * Newest first, for configuration scans: every entry held whole, then the released
   * configuration entries (the other released ones are left out: they have no data in memory).
   */
  *reverse(): Iterable<Entry> {
    for (let i = this.entries.length - 1; i >= 0; i--) yield this.entries[i]!;
    for (let i = this.releasedConfigs.length - 1; i >= 0; i--) yield this.releasedConfigs[i]!;
  }
}
