// What a leader knows about one follower's log, and the flow control of replication to it
// (the three states of etcd/raft's tracker):
//
//   Probe      the leader does not know where the follower's log matches: one append at a time,
//              then wait for its answer (or the next heartbeat answer) before sending another.
//   Replicate  the follower is in step: appends are pipelined, at most `maxInflight` unanswered.
//   Snapshot   the follower needs entries the leader compacted away: a snapshot is being sent, in
//              chunks, one unacknowledged chunk at a time.

import { assert } from './assert.js';

export enum ProgressState {
  Probe = 'probe',
  Replicate = 'replicate',
  Snapshot = 'snapshot',
}

export class Progress {
  match = 0;
  next: number;
  state = ProgressState.Probe;
  /** In Probe: an append was sent and not answered yet. */
  probeSent = false;
  /** In Replicate: last index of every unanswered append, oldest first (bounded). */
  private readonly inflight: number[] = [];
  /** In Snapshot: index of the snapshot being sent, and the next chunk offset to send. */
  snapshotIndex = 0;
  snapshotOffset = 0;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;
  /** Highest heartbeat round this follower acknowledged (reads and leases). */
  ackedRound = 0;
  /**
   * The follower answered an append, echoing its round, since the last heartbeat tick: it is in
   * touch, its election timer was reset, and its answers acknowledge rounds, so the tick's
   * heartbeat can be skipped. (Hosts that predate round echoes answer 0 and keep their heartbeats.)
   */
  answeredSinceBeat = false;
  /** Its last answer to an append echoed the append's round: its answers to appends alone keep the lease. */
  echoesRounds = false;
  /** The leader's tick count when it last sent this follower an append or a heartbeat. */
  lastSentTick = -Infinity;
  /**
   * The leader's read/lease round when it last sent this follower an append or a snapshot chunk.
   * A heartbeat answer of this round or an older one answers a heartbeat sent before that
   * message, so it says nothing about whether the message arrived (see Raft's HeartbeatResp).
   */
  sentRound = 0;

  constructor(next: number, private readonly maxInflight: number) {
    this.next = next;
  }

  becomeProbe(): void {
    // Coming out of Snapshot, the follower has at least the snapshot's entries.
    this.next = this.state === ProgressState.Snapshot ? Math.max(this.match + 1, this.snapshotIndex + 1) : this.match + 1;
    this.state = ProgressState.Probe;
    this.probeSent = false;
    this.inflight.length = 0;
    this.snapshotIndex = 0;
  }

  becomeReplicate(): void {
    this.state = ProgressState.Replicate;
    this.next = this.match + 1;
    this.probeSent = false;
    this.inflight.length = 0;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.state = ProgressState.Snapshot;
    this.snapshotIndex = snapshotIndex;
    this.snapshotOffset = 0;
    this.inflight.length = 0;
  }

  /** A follower acknowledged entries up to index. False if the answer is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (index > this.match) {
      this.match = index;
      this.probeSent = false;
      updated = true;
    }
    this.next = Math.max(this.next, index + 1);
    while (this.inflight.length > 0 && this.inflight[0]! <= index) this.inflight.shift();
    return updated;
  }

  /**
   * A follower rejected an append whose previous entry was at `rejected`; `hint` is the largest
   * index where the logs may match. False if the rejection is stale (answers an old append).
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === ProgressState.Replicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records an append sent in Replicate state whose last entry is `last`. */
  sentEntries(last: number): void {
    if (this.state === ProgressState.Replicate) {
      assert(last >= this.next - 1, 'replicating backwards');
      this.next = last + 1;
      this.inflight.push(last);
    } else if (this.state === ProgressState.Probe) {
      this.probeSent = true;
    }
  }

  /** Whether the leader must hold back appends to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.Probe:
        return this.probeSent;
      case ProgressState.Replicate:
        return this.inflight.length >= this.maxInflight;
      case ProgressState.Snapshot:
        return true;
    }
  }

  /** Frees one inflight slot: a heartbeat answer proves the follower is alive even if appends were lost. */
  freeFirstInflight(): void {
    this.inflight.shift();
  }

  get inflightCount(): number {
    return this.inflight.length;
  }
}
