// The caller's side of command/query/admin by group name, from any host: which host to ask, what
// to do with each answer, and when to give up. The leader cache maps a group to the host that last
// led it; a `not leader` answer with a hint moves the cache to the hint, one without a hint (or an
// unreachable host, or an attempt that timed out) moves on to the next candidate from placement.
// Every command carries a session (client id, seq), so retrying one whose first attempt may have
// been applied is safe: the group answers the retry from its session table.
//
// The outcome a caller sees: the reply; a definite error (COMMAND_FAILED, BAD_ARGUMENT, or BUSY
// before any attempt that may have been applied); UNAVAILABLE if no attempt ever reached a leader
// (the command certainly was not applied); TIMEOUT if the deadline passed after an attempt that may
// have been applied (outcome unknown).

import { FlotillaError, type ErrorCode } from '../common/errors.js';
import { machineFault } from '../group/machine-error.js';
import { MAX_CLIENT_ID_BYTES } from '../group/sessions.js';
import type { Scheduler } from '../common/scheduler.js';
import type { ClientRequestItem, ClientResponseItem, Consistency, HostId, RequestKind } from '../transport/items.js';
import { coalescedFlush } from '../transport/coalesced-flush.js';
import { refusal, type Transport } from '../transport/transport.js';
import { ClientSessions } from './client-sessions.js';
import { overLimit, type FleetLimits } from './limits.js';

export interface RouterDeps {
  hostId: HostId;
  transport: Transport;
  scheduler: Scheduler;
  /** Unique to this process run: sessions of an earlier run must not collide with this one's. */
  clientId: string;
  /**
   * Where this process run's request ids start: a random point in [0, 2^52). A peer answers a
   * request from an earlier run of this host over the new run's connection; starting from 1 again,
   * that late answer would match one of this run's requests (fleet-sim seed 170: a read of g2
   * answered with another group's reply).
   */
  firstRequestId: number;
  /** Serves a request addressed to this host (no network hop). */
  serveLocal(item: ClientRequestItem): Promise<ClientResponseItem>;
  /** Hosts worth asking for a group, best first (placement, then any active host). */
  candidates(group: string): HostId[];
  /** Payloads above these are refused before they are sent (they could not travel, or be proposed). */
  limits: Pick<FleetLimits, 'maxCommandBytes' | 'maxQueryBytes'>;
}

export interface CallOptions {
  timeoutMs: number;
  consistency?: Consistency;
  /** Ask this host first (a join goes to a seed). */
  via?: HostId;
  /** Ask `via` only, once (a leader preparing a replica on a chosen host). */
  only?: boolean;
}

/** One attempt waits at most this long before the next candidate is tried (a call with `only` has none). */
const ATTEMPT_MS = 1000;
/** Pause between rounds over every candidate without finding a leader. */
const RETRY_MS = [10, 20, 50, 100, 200];

interface Pending {
  target: HostId;
  resolve(item: ClientResponseItem): void;
}

export class Router {
  private readonly deps: RouterDeps;
  private readonly leaders = new Map<string, HostId>();
  private readonly pending = new Map<number, Pending>();
  private readonly sessions: ClientSessions;
  private nextRequestId: number;
  private closedWith: FlotillaError | null = null;
  /** Requests sent together share a frame per host. */
  private readonly flushSoon: () => void;
  readonly stats = { calls: 0, attempts: 0, redirects: 0 };

  constructor(deps: RouterDeps) {
    if (Buffer.byteLength(deps.clientId) > MAX_CLIENT_ID_BYTES) throw new FlotillaError('BAD_ARGUMENT', `client id ${deps.clientId} is too long`);
    this.deps = deps;
    this.nextRequestId = deps.firstRequestId;
    this.sessions = new ClientSessions(deps.clientId, deps.scheduler);
    this.flushSoon = coalescedFlush(deps.transport, deps.scheduler);
  }

  /** The host believed to lead `group`, if known. */
  cachedLeader(group: string): HostId | undefined {
    return this.leaders.get(group);
  }

  noteLeader(group: string, host: HostId): void {
    if (host === '') this.leaders.delete(group);
    else this.leaders.set(group, host);
  }

  /** The connection to `host` is gone: its pending attempts fail now rather than at their timeout. */
  peerDown(host: HostId): void {
    for (const [requestId, p] of this.pending) {
      if (p.target !== host) continue;
      this.pending.delete(requestId);
      p.resolve({ kind: 'clientResponse', requestId, error: { code: 'TIMEOUT', message: `lost the connection to host ${host}` }, payload: new Uint8Array(0), leaderHint: '', leaderTerm: 0 });
    }
  }

  /**
   * Ends every call with `err` (a client closing): attempts on the wire fail now, and no call starts
   * another round, so nothing keeps retrying, and holding timers, until its deadline.
   */
  close(err: FlotillaError): void {
    this.closedWith = err;
    for (const [requestId, p] of this.pending) {
      this.pending.delete(requestId);
      p.resolve({ kind: 'clientResponse', requestId, error: { code: err.code, message: err.message }, payload: new Uint8Array(0), leaderHint: '', leaderTerm: 0 });
    }
  }

  /** A response from host `from`. */
  onResponse(from: HostId, item: ClientResponseItem): void {
    const p = this.pending.get(item.requestId);
    // Its attempt already timed out; or the id is another host's to answer (a confused peer).
    if (p === undefined || p.target !== from) return;
    this.pending.delete(item.requestId);
    p.resolve(item);
  }

  /**
   * Throws BAD_ARGUMENT if the payload is over its limit, whichever host would serve it: a command
   * no Append could carry is never proposed, and no request larger than a frame is sent.
   */
  checkPayload(group: string, kind: RequestKind, payload: Uint8Array): void {
    const [limitName, limit] = kind === 'command' ? (['maxCommandBytes', this.deps.limits.maxCommandBytes] as const) : (['maxQueryBytes', this.deps.limits.maxQueryBytes] as const);
    if (payload.length > limit) throw overLimit(`group ${group}: the ${kind}`, payload.length, limitName, limit);
  }

  async call(group: string, kind: RequestKind, payload: Uint8Array, options: CallOptions): Promise<Uint8Array> {
    this.stats.calls++;
    this.checkPayload(group, kind, payload);
    const { scheduler } = this.deps;
    const deadline = scheduler.now() + options.timeoutMs;
    const session = kind === 'command' ? await this.sessions.open(group, deadline) : null;
    let maybeApplied = false;
    let lastError: FlotillaError | null = null;
    let round = 0;
    let tried = new Set<HostId>();
    let next: HostId | undefined = options.via;
    try {
      for (;;) {
        if (this.closedWith !== null) throw this.closedWith;
        const remaining = deadline - scheduler.now();
        if (remaining <= 0) throw this.giveUp(group, kind, maybeApplied, lastError);
        const target = next ?? this.leaders.get(group) ?? this.candidatesFor(group, options.via).find((h) => !tried.has(h));
        next = undefined;
        if (target === undefined) {
          // Every candidate said no: wait a little (an election may be running) and start over.
          tried = new Set();
          await sleep(scheduler, Math.min(RETRY_MS[Math.min(round++, RETRY_MS.length - 1)]!, remaining));
          continue;
        }
        const item: ClientRequestItem = {
          kind: 'clientRequest',
          requestId: 0,
          group,
          requestKind: kind,
          payload,
          clientId: session?.clientId ?? '',
          seq: session?.seq ?? 0,
          ackedBelow: session?.ackedBelow() ?? 0,
          consistency: options.consistency ?? 'linearizable',
          // A host asked alone gets the call's whole time: there is no other to try after it.
          timeoutMs: Math.max(1, Math.ceil(options.only === true ? remaining : Math.min(remaining, ATTEMPT_MS))),
        };
        const response = await this.attempt(target, item);
        if (options.only === true && response.error !== null) throw responseError(response.error, group, target);
        if (response.error === null) {
          this.leaders.set(group, target);
          return response.payload;
        }
        const error = responseError(response.error, group, target);
        lastError = error;
        switch (response.error.code) {
          case 'NOT_LEADER':
          case 'NO_SUCH_GROUP': // that host holds no replica (yet): ask another
          case 'NOT_ACTIVE':
            tried.add(target);
            if (this.leaders.get(group) === target) this.leaders.delete(group);
            if (response.leaderHint !== '' && response.leaderHint !== target && !tried.has(response.leaderHint)) {
              this.stats.redirects++;
              this.leaders.set(group, response.leaderHint);
            }
            break;
          case 'TIMEOUT':
          case 'UNAVAILABLE':
          case 'SHUTTING_DOWN':
          case 'STORAGE_FAILED':
            // The target may have proposed the command before it failed or went silent.
            if (kind === 'command' && response.error.code !== 'UNAVAILABLE') maybeApplied = true;
            tried.add(target);
            if (this.leaders.get(group) === target) this.leaders.delete(group);
            break;
          case 'BUSY':
            // Back-pressure: this attempt was not proposed. An earlier one may have been, and then
            // the caller must not hear a definite failure: ask again (the session answers once it
            // is applied), and past the deadline the outcome is unknown (TIMEOUT).
            if (!maybeApplied) throw error;
            await sleep(scheduler, Math.min(RETRY_MS[Math.min(round++, RETRY_MS.length - 1)]!, remaining));
            next = target;
            break;
          default:
            throw error;
        }
      }
    } finally {
      session?.close();
    }
  }

  private candidatesFor(group: string, via: HostId | undefined): HostId[] {
    const hosts = this.deps.candidates(group);
    return via === undefined ? hosts : [via, ...hosts.filter((h) => h !== via)];
  }

  private giveUp(group: string, kind: RequestKind, maybeApplied: boolean, lastError: FlotillaError | null): FlotillaError {
    const why = lastError ? `: ${lastError.message}` : '';
    if (maybeApplied) {
      return new FlotillaError('TIMEOUT', `group ${group}: no answer in time; the ${kind} may or may not have been applied${why}`, { group });
    }
    const code: ErrorCode = kind === 'command' ? 'UNAVAILABLE' : 'TIMEOUT';
    return new FlotillaError(code, `group ${group}: no leader answered in time${why}`, { group });
  }

  private attempt(target: HostId, item: ClientRequestItem): Promise<ClientResponseItem> {
    if (this.closedWith !== null) return Promise.resolve(failed(item, this.closedWith));
    this.stats.attempts++;
    if (target === this.deps.hostId) {
      return this.deps.serveLocal(item).catch((err: unknown) => failed(item, toFlotilla(err)));
    }
    const requestId = this.nextRequestId++;
    const sent = { ...item, requestId };
    const status = this.deps.transport.send(target, sent);
    if (status !== 'queued') return Promise.resolve(failed(sent, refusal(status, target)));
    this.flushSoon();
    return new Promise((resolve) => {
      const timer = this.deps.scheduler.after(item.timeoutMs, () => {
        this.pending.delete(requestId);
        resolve(failed(sent, new FlotillaError('TIMEOUT', `host ${target} did not answer in ${item.timeoutMs} ms`)));
      });
      this.pending.set(requestId, {
        target,
        resolve: (response) => {
          timer.cancel();
          resolve(response);
        },
      });
    });
  }
}

/** The error a caller gets for a response's: a machine error's code and details as the group recorded them. */
function responseError(e: NonNullable<ClientResponseItem['error']>, group: string, host: HostId): FlotillaError {
  return new FlotillaError(e.code, e.message, { group, host }, machineFault(e.machineCode, e.machineDetails));
}

function failed(item: ClientRequestItem, error: FlotillaError): ClientResponseItem {
  return { kind: 'clientResponse', requestId: item.requestId, error: { code: error.code, message: error.message }, payload: new Uint8Array(0), leaderHint: '', leaderTerm: 0 };
}

export function toFlotilla(err: unknown): FlotillaError {
  if (err instanceof FlotillaError) return err;
  return new FlotillaError('UNAVAILABLE', err instanceof Error ? err.message : String(err));
}

function sleep(scheduler: Scheduler, ms: number): Promise<void> {
  return new Promise((resolve) => scheduler.after(ms, resolve));
}
