// The host's background fleet work (founding and deleting replicas, preparing learners, marking
// hosts, saving peers...): each task runs under a key, once at a time, and a failure is only
// logged, because the next periodic pass tries again.

import type { Logger } from 'pino';

export class Housekeeping {
  /** Keys of the tasks running, so a periodic pass does not repeat one. */
  private readonly inFlight = new Set<string>();

  constructor(
    /** True once the host is stopped: nothing new starts. */
    private readonly stopped: () => boolean,
    private readonly logger: Logger,
  ) {}

  /** Runs `task` unless the one under `key` is still running. */
  run(key: string, task: () => Promise<unknown>): void {
    if (this.inFlight.has(key) || this.stopped()) return;
    this.inFlight.add(key);
    task()
      .catch((err: unknown) => this.logger.debug({ err, task: key }, 'housekeeping failed; the next pass retries'))
      .finally(() => this.inFlight.delete(key));
  }

  running(key: string): boolean {
    return this.inFlight.has(key);
  }
}
