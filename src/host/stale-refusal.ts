// What a host does once a peer found its data directory older than the fleet has seen
// (fleet/generation.ts): it takes nothing more in, marks the directory so every later start
// refuses, fails what waits on it with STORAGE_STALE, and stops. With acceptStaleDataDir it
// adopts the generation the peer recorded instead, and carries on.

import type { Logger } from 'pino';
import type { FlotillaError } from '../common/errors.js';
import { staleDataDirError, type GenerationVerdict } from '../fleet/generation.js';
import type { GenerationKeeper } from '../fleet/generation-keeper.js';
import type { Housekeeping } from '../fleet/housekeeping.js';

export interface StaleRefusalParts {
  hostId: string;
  generation: GenerationKeeper;
  acceptStale: boolean;
  housekeeping: Housekeeping;
  logger: Logger;
  /** Nothing received is delivered any more (GenerationGate.fence). */
  fence: () => void;
  stopped: () => boolean;
  stop: () => Promise<void>;
}

export class StaleRefusal {
  /** Set once a peer found this data directory stale. */
  error: FlotillaError | null = null;
  /** Rejects with `error` when it is set (it never resolves). */
  readonly refusal: Promise<never>;
  private refuse: (err: FlotillaError) => void = () => undefined;

  constructor(private readonly parts: StaleRefusalParts) {
    this.refusal = new Promise<never>((_, reject) => (this.refuse = reject));
    this.refusal.catch(() => undefined);
  }

  /** `peer` found this data directory older than it has seen. */
  refused(peer: string, verdict: GenerationVerdict): void {
    const { generation, logger } = this.parts;
    if (this.error !== null || this.parts.stopped()) return;
    const found = generation.presented().floor;
    if (this.parts.acceptStale) {
      if (verdict.recorded <= found) return;
      logger.warn({ peer, recorded: verdict.recorded, found }, 'UNSAFE: serving from a data directory found stale (acceptStaleDataDir): taking the generation the peer recorded; writes acknowledged after the copy may be lost');
      this.parts.housekeeping.run(`rebase/${verdict.recorded}`, () => generation.rebase(verdict.recorded));
      return;
    }
    const err = staleDataDirError(this.parts.hostId, peer, verdict.recorded, found);
    this.error = err;
    this.refuse(err);
    this.parts.fence();
    logger.error({ err, peer, recorded: verdict.recorded, found }, 'refused as stale: this host serves nothing and stops');
    void generation
      .markStale(peer, verdict.recorded)
      .catch((markErr: unknown) => logger.error({ err: markErr }, 'could not mark the data directory stale'))
      .finally(() => this.parts.stop());
  }
}
