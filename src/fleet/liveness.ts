// Host liveness, once per host pair rather than once per group: every host pings each peer on
// one timer, and anything received from a peer counts as hearing from it. The cluster leader's
// host uses `silentFor` to mark hosts failed; the router skips hosts it suspects.

import type { Scheduler } from '../common/scheduler.js';
import type { HostId } from '../transport/items.js';

export class Liveness {
  private readonly lastHeard = new Map<HostId, number>();
  /** When this process started watching: nobody counts as silent for longer than that. */
  private readonly since: number;

  constructor(private readonly scheduler: Scheduler) {
    this.since = scheduler.now();
  }

  heard(host: HostId): void {
    this.lastHeard.set(host, this.scheduler.now());
  }

  /** Milliseconds since anything arrived from `host` (or since this process started watching). */
  silentFor(host: HostId): number {
    return this.scheduler.now() - (this.lastHeard.get(host) ?? this.since);
  }

  /** Milliseconds since this process started watching. */
  watchedFor(): number {
    return this.scheduler.now() - this.since;
  }
}
