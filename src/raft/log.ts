// The Raft log as one member sees it: entries after a compaction offset, held in memory, with
// the marks that tell the driver what to persist (`stable`) and to apply (`committed`, `applied`).
//
// The whole uncompacted log lives in memory: snapshots bound its length, and the core then needs
// no storage reads, which keeps it pure and synchronous.

import { assert } from './assert.js';
import type { Entry } from './types.js';

export class RaftLog {
  /** Index of the last compacted entry (0 if none); entries[0] has index offset + 1. */
  private offset: number;
  /** Term of the entry at `offset`, or -1 when it is not known (then probes there need a snapshot). */
  private offsetTerm: number;
  private entries: Entry[];
  /** Highest index known to be durable on this member. */
  stable: number;
  /** Highest index handed to the driver for persisting (≥ stable while a write is in flight). */
  persisting: number;
  committed: number;
  /** Highest index handed to the driver for applying. */
  applying: number;
  /** Highest index the driver confirmed applied. */
  applied: number;

  constructor(offset: number, offsetTerm: number, entries: Entry[], committed: number, applied: number) {
    for (let i = 0; i < entries.length; i++) {
      assert(entries[i]!.index === offset + 1 + i, 'log entries must be contiguous after the offset');
    }
    this.offset = offset;
    this.offsetTerm = offsetTerm;
    this.entries = entries;
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
    return this.offset + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  /** Term of the entry at index, or undefined if compacted away or not yet written. */
  term(index: number): number | undefined {
    if (index === this.offset) return this.offsetTerm >= 0 ? this.offsetTerm : undefined;
    if (index < this.offset || index > this.lastIndex()) return undefined;
    return this.entries[index - this.offset - 1]!.term;
  }

  entry(index: number): Entry | undefined {
    if (index <= this.offset) return undefined;
    return this.entries[index - this.offset - 1];
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
    for (let i = from; i < end; i++) {
      const e = this.entries[i - this.offset - 1]!;
      bytes += e.data.length + perEntryBytes;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** Appends entries as a leader does (they always follow the last index). */
  append(entries: Entry[]): void {
    for (const e of entries) {
      assert(e.index === this.lastIndex() + 1, `append at ${e.index} after last ${this.lastIndex()}`);
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
    this.entries.length = index - this.offset - 1;
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
    return this.entries.slice(this.persisting - this.offset);
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
    assert(index <= this.applied, `compacting ${index} beyond applied ${this.applied}`);
    const term = this.term(index)!;
    this.entries = this.entries.slice(index - this.offset);
    this.offset = index;
    this.offsetTerm = term;
  }

  /** Replaces the whole log by a snapshot's position (an installed snapshot). */
  restore(index: number, term: number): void {
    this.entries = [];
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

  /** Entries in memory, newest last (read-only view for configuration scans). */
  *reverse(): Iterable<Entry> {
    for (let i = this.entries.length - 1; i >= 0; i--) yield this.entries[i]!;
  }
}
