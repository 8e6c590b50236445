// One simulated member: a Raft core, its disk, its key-value state machine, and the driver loop
// that connects them (persist a ready, wait for the sync, send, apply, advance), in virtual time.

import type { OpInput, Output } from '../check/history.js';
import { isFlotillaError } from '../common/errors.js';
import { Raft, type RaftConfig, type Ready } from '../raft/raft.js';
import { EntryType, Role, type Entry, type Message, type NodeId } from '../raft/types.js';
import { decodeCommand, encodeCommand, KvMachine } from './kv-machine.js';
import { SimDisk } from './sim-disk.js';

/** How the node reaches the rest of the simulated world. */
export interface NodeEnv {
  send(m: Message): void;
  after(delayMs: number, run: () => void): void;
  syncDelayMs(): number;
  /** Invariant hooks. */
  observeReady(node: SimRaftNode, rd: Ready): void;
  observeApply(node: SimRaftNode, entry: Entry): void;
}

export type CommandResult =
  | { kind: 'ok'; output: Output }
  | { kind: 'failed' } // certainly not applied
  | { kind: 'error'; error: string } // applied as a deterministic error reply
  | { kind: 'notLeader'; leader: NodeId }; // not accepted here

export type ReadResult = { kind: 'ok'; value: string | null } | { kind: 'notLeader'; leader: NodeId };

interface PendingRead {
  key: string;
  term: number;
  done: (r: ReadResult) => void;
}

export class SimRaftNode {
  private core: Raft | null = null;
  /** Ticks a quiesced core has not been given yet: as the host loop does, it gets them before its next input. */
  private owedTicks = 0;
  /** The member this host runs: `host` for the first, `host~N` for a re-added one (ids are never reused). */
  id: NodeId;
  /** A paused process (a GC pause, SIGSTOP): its clock runs on, everything else waits. */
  private paused = false;
  private missedTicks = 0;
  private deferred: Array<() => void> = [];
  kv = new KvMachine();
  /** Bumped on every crash: callbacks of an older incarnation are ignored. */
  private incarnation = 0;
  private writing = false;
  private readonly commands = new Map<number, { id: number; done: (r: CommandResult) => void }>();
  private readonly reads = new Map<number, PendingRead>();
  private confirmed: Array<{ index: number; read: PendingRead }> = [];
  private nextReadId = 1;
  /** Index of the last entry applied; checked to grow one by one. */
  applied = 0;

  constructor(
    readonly host: string,
    public disk: SimDisk,
    private readonly config: (id: NodeId) => RaftConfig,
    private readonly env: NodeEnv,
    private readonly compactEvery: number,
    private readonly keepEntries: number,
  ) {
    this.id = host;
  }

  /** The Raft core, caught up on the ticks it is owed: everything outside tick() reaches it here. */
  get raft(): Raft | null {
    if (this.core !== null && this.owedTicks > 0) {
      this.core.tick(this.owedTicks);
      this.owedTicks = 0;
    }
    return this.core;
  }

  get up(): boolean {
    return this.core !== null;
  }

  start(): void {
    const d = this.disk.load();
    const snapIndex = d.snapshot?.meta.index ?? 0;
    this.kv = d.snapshot ? KvMachine.restore(d.snapshot.data) : new KvMachine();
    this.applied = snapIndex;
    this.core = new Raft(this.config(this.id), { hardState: d.hardState, snapshot: d.snapshot, entries: d.entries, applied: snapIndex });
    this.owedTicks = 0;
    this.writing = false;
  }

  crash(): void {
    this.incarnation++;
    this.disk.crash();
    this.core = null;
    this.writing = false;
    this.commands.clear();
    this.reads.clear();
    this.confirmed = [];
    this.paused = false;
    this.missedTicks = 0;
    this.deferred = [];
  }

  /** Replaces this host's member by a new one with an empty disk (a re-added replica). */
  rejoinAs(id: NodeId): void {
    this.crash();
    this.id = id;
    this.disk = SimDisk.empty();
    this.start();
  }

  pause(): void {
    if (this.core !== null) this.paused = true;
  }

  /** Resumes: first the ticks its clock counted meanwhile, then what queued up, in order. False if it was not paused. */
  resume(): boolean {
    if (!this.paused) return false;
    this.paused = false;
    const ticks = this.missedTicks;
    this.missedTicks = 0;
    for (let i = 0; i < ticks && this.core !== null; i++) this.tick();
    const deferred = this.deferred;
    this.deferred = [];
    for (const run of deferred) run();
    return true;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  tick(): void {
    if (this.core === null) return;
    if (this.paused) {
      this.missedTicks++;
      return;
    }
    if (this.core.isQuiesced) {
      this.owedTicks++;
      return;
    }
    this.raft!.tick();
    this.pump();
  }

  receive(m: Message): void {
    if (this.raft === null || m.to !== this.id) return;
    if (this.whenRunning(() => this.receive(m))) return;
    this.raft.step(m);
    this.pump();
  }

  /** A client command; `done` is called once, whatever happens, unless the member crashes. */
  propose(id: number, input: OpInput, done: (r: CommandResult) => void): void {
    if (this.whenRunning(() => this.propose(id, input, done))) return;
    const raft = this.raft;
    if (raft === null) return;
    try {
      const index = raft.propose(encodeCommand({ id, input }));
      this.commands.set(index, { id, done });
      this.pump();
    } catch (err) {
      if (!isFlotillaError(err, 'NOT_LEADER') && !isFlotillaError(err, 'BUSY')) throw err;
      done({ kind: 'notLeader', leader: String(err.details['leader'] ?? '') });
    }
  }

  /** A linearizable (or lease) read; `done` is called once unless the member crashes. */
  read(key: string, lease: boolean, done: (r: ReadResult) => void): void {
    if (this.whenRunning(() => this.read(key, lease, done))) return;
    const raft = this.raft;
    if (raft === null) return;
    if (raft.currentRole !== Role.Leader) {
      done({ kind: 'notLeader', leader: raft.leader });
      return;
    }
    const id = this.nextReadId++;
    this.reads.set(id, { key, term: raft.currentTerm, done });
    raft.readIndex(id, { lease });
    this.pump();
  }

  /** While paused, queues `run` for the resume and returns true. */
  private whenRunning(run: () => void): boolean {
    if (!this.paused) return false;
    this.deferred.push(run);
    return true;
  }

  /** The driver loop: one ready at a time, persisted and synced before its messages go out. */
  private pump(): void {
    const raft = this.raft;
    if (raft === null || this.writing || !raft.hasReady()) return;
    const rd = raft.ready();
    this.env.observeReady(this, rd);
    this.failReadsIfDeposed(rd);
    if (rd.snapshot) this.disk.installSnapshot(rd.snapshot);
    if (rd.hardState) this.disk.setHardState(rd.hardState);
    this.disk.append(rd.entries);
    this.writing = true;
    const incarnation = this.incarnation;
    const finish = () => {
      if (incarnation !== this.incarnation) return; // crashed before the sync finished
      if (!this.whenRunning(finish)) this.finish(rd);
    };
    this.env.after(this.env.syncDelayMs(), finish);
  }

  private finish(rd: Ready): void {
    const raft = this.raft!;
    this.disk.sync();
    for (const m of rd.messages) this.env.send(m);
    if (rd.snapshot) {
      this.kv = KvMachine.restore(rd.snapshot.data);
      this.applied = rd.snapshot.meta.index;
      // Commands proposed at indexes the snapshot covers: their outcome is unknown here.
      for (const index of [...this.commands.keys()]) if (index <= this.applied) this.commands.delete(index);
    }
    for (const e of rd.committed) this.apply(e);
    raft.advance(rd);
    for (const rs of rd.readStates) {
      const read = this.reads.get(rs.requestId);
      if (read === undefined) continue;
      this.reads.delete(rs.requestId);
      this.confirmed.push({ index: rs.index, read });
    }
    this.serveConfirmedReads();
    this.maybeCompact();
    this.writing = false;
    this.pump();
  }

  private apply(e: Entry): void {
    if (e.index !== this.applied + 1) throw new Error(`${this.id} applied ${e.index} after ${this.applied}`);
    this.applied = e.index;
    this.env.observeApply(this, e);
    const pending = this.commands.get(e.index);
    this.commands.delete(e.index);
    if (e.type !== EntryType.Normal || e.data.length === 0) {
      pending?.done({ kind: 'failed' });
      return;
    }
    const cmd = decodeCommand(e.data);
    const result = this.kv.apply(cmd.input);
    if (pending === undefined) return;
    if (pending.id !== cmd.id) {
      pending.done({ kind: 'failed' }); // another entry took our index: ours was truncated
    } else if (result.ok) {
      pending.done({ kind: 'ok', output: result.output });
    } else {
      pending.done({ kind: 'error', error: result.error });
    }
  }

  private serveConfirmedReads(): void {
    const waiting: typeof this.confirmed = [];
    for (const c of this.confirmed) {
      if (c.index <= this.applied) c.read.done({ kind: 'ok', value: this.kv.read(c.read.key) });
      else waiting.push(c);
    }
    this.confirmed = waiting;
  }

  /** Reads still waiting for a heartbeat round die with the leadership that issued them. */
  private failReadsIfDeposed(rd: Ready): void {
    for (const [id, read] of this.reads) {
      if (rd.role !== Role.Leader || rd.term !== read.term) {
        this.reads.delete(id);
        read.done({ kind: 'notLeader', leader: rd.leader });
      }
    }
  }

  private maybeCompact(): void {
    const raft = this.raft!;
    if (this.applied - (raft.latestSnapshot?.meta.index ?? 0) < this.compactEvery) return;
    const compactTo = raft.compact(this.applied, this.kv.snapshot(), this.keepEntries);
    const snap = raft.latestSnapshot;
    if (snap !== null) this.disk.saveSnapshot(snap, compactTo);
  }
}
