// A member's disk in the simulation. Writes land in a volatile buffer; sync() makes them durable;
// crash() forgets every write not yet synced, as a power loss does.

import type { Entry, HardState, Snapshot } from '../raft/types.js';
import { NONE } from '../raft/types.js';

export interface DiskState {
  hardState: HardState;
  snapshot: Snapshot | null;
  entries: Entry[];
}

type Write = (d: DiskState) => void;

export class SimDisk {
  private durable: DiskState;
  private pending: Write[] = [];
  syncs = 0;

  constructor(initial: DiskState) {
    this.durable = clone(initial);
  }

  static empty(): SimDisk {
    return new SimDisk({ hardState: { term: 0, vote: NONE, commit: 0 }, snapshot: null, entries: [] });
  }

  setHardState(hs: HardState): void {
    this.pending.push((d) => {
      d.hardState = { ...hs };
    });
  }

  /** Replaces every stored entry at or after entries[0].index. */
  append(entries: Entry[]): void {
    if (entries.length === 0) return;
    this.pending.push((d) => {
      const first = entries[0]!.index;
      d.entries = d.entries.filter((e) => e.index < first).concat(entries);
    });
  }

  /** An installed snapshot: the whole stored log is replaced by it. */
  installSnapshot(snap: Snapshot): void {
    this.pending.push((d) => {
      d.snapshot = snap;
      d.entries = [];
    });
  }

  /** A locally taken snapshot; entries up to `compactTo` are dropped. */
  saveSnapshot(snap: Snapshot, compactTo: number): void {
    this.pending.push((d) => {
      d.snapshot = snap;
      d.entries = d.entries.filter((e) => e.index > compactTo);
    });
  }

  sync(): void {
    for (const w of this.pending) w(this.durable);
    this.pending = [];
    this.syncs++;
  }

  crash(): void {
    this.pending = [];
  }

  /** What a restart finds. */
  load(): DiskState {
    return clone(this.durable);
  }
}

function clone(d: DiskState): DiskState {
  return { hardState: { ...d.hardState }, snapshot: d.snapshot, entries: [...d.entries] };
}
