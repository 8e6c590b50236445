// The optional HTTP admin port of a host: GET /metrics (Prometheus text), GET /status (JSON:
// this host's members, the fleet as it sees it, and what is wrong with it), GET / (the status
// page, status-page.ts), and GET /healthz and /readyz (200 or 503 with a reason, for probes and
// load balancers). Unauthenticated and read-only: bind it to an address only operators reach.

import { createServer } from 'node:http';
import { FlotillaError } from '../common/errors.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import { SUSPECT_MS } from '../fleet/failure-detector.js';
import { fleetFindings } from '../fleet/ops-protocol.js';
import { fleetView } from '../fleet/ops-service.js';
import { collect, render, type MetricSources } from './metrics.js';
import { PAGE_CSP, statusPage } from './status-page.js';

export interface AdminServer {
  /** 'host:port' listened on (the real port when asked for 0). */
  readonly address: string;
  close(): Promise<void>;
}

/** Listens on `listen` ('host:port', or a port alone for 127.0.0.1). */
export async function startAdminServer(listen: string, sources: MetricSources): Promise<AdminServer> {
  const { host, port } = parseAddress(/^\d+$/.test(listen) ? `127.0.0.1:${listen}` : listen);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' }).end();
      return;
    }
    if (path === '/metrics') {
      res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' }).end(render(collect(sources)));
      return;
    }
    if (path === '/status') {
      status(sources).then(
        (body) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(body, null, 2)),
        (err: unknown) => res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: err instanceof Error ? err.message : String(err) })),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const verdict = path === '/healthz' ? healthz(sources) : readyz(sources);
      res.writeHead(verdict.ok ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify(verdict));
      return;
    }
    if (path === '/') {
      status(sources).then(
        (body) => page(body),
        () => page(null),
      );
      return;
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('try /, /metrics, /status, /healthz or /readyz\n');

    function page(initial: unknown): void {
      res
        .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': PAGE_CSP, 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' })
        .end(statusPage(initial));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new FlotillaError('BAD_ARGUMENT', `admin port ${listen}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  const bound = server.address();
  const address = formatAddress({ host, port: typeof bound === 'object' && bound !== null ? bound.port : port });
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function status(sources: MetricSources): Promise<unknown> {
  const { host } = sources;
  const local = host.status();
  const fleet = local.state === 'active' || local.state === 'deactivating' ? await fleetView(host, host) : null;
  // What is wrong, one line each, as `flotilla status` prints it: the page lists these at the top.
  const findings = fleet === null ? [] : fleetFindings(fleet);
  return { host: local, fleet, findings };
}

/** A probe's answer: ok, or why not. */
export interface Verdict {
  ok: boolean;
  reason?: string;
}

/** Periodic passes the host may miss before /healthz says its loop does not turn. */
const MISSED_PASSES = 8;

/**
 * /healthz: the process answers, its host loop has not failed (fail-stop after a write error) and
 * its periodic pass ran within MISSED_PASSES periods (at least 2 s). Says nothing of the fleet.
 */
export function healthz({ host }: MetricSources): Verdict {
  const health = host.health();
  if (health.loopFailed !== null) return { ok: false, reason: `the host loop failed: ${health.loopFailed}` };
  if (host.localState === 'stopped') return { ok: false, reason: `host ${host.id} is stopped` };
  const limit = Math.max(MISSED_PASSES * health.passPeriodMs, 2000);
  if (health.sincePassMs > limit) return { ok: false, reason: `the host's periodic pass has not run for ${Math.round(health.sincePassMs)} ms (limit ${limit} ms)` };
  return { ok: true };
}

/**
 * /readyz: healthy, active (not inactive, deactivating or stopped), caught up with the metadata
 * (its replica of the cluster group has applied all it knows committed, or has been behind for
 * less than a periodic pass) and the cluster group
 * reachable (a leader known, heard within the failure detector's suspicion window). A host that
 * holds no replica of the cluster group fetches the metadata through its peers: it needs one
 * active peer heard within that window.
 */
export function readyz(sources: MetricSources): Verdict {
  const live = healthz(sources);
  if (!live.ok) return live;
  const { host } = sources;
  if (host.localState !== 'active') return { ok: false, reason: `host ${host.id} is ${host.localState}, not active` };
  const { cluster, peerSilentMs, passPeriodMs } = host.health();
  if (cluster === null) {
    if (peerSilentMs === null || peerSilentMs > SUSPECT_MS) return { ok: false, reason: `host ${host.id} holds no replica of the cluster group and hears no active peer to fetch the metadata from` };
    return { ok: true };
  }
  if (cluster.leader === null) return { ok: false, reason: 'the cluster group has no leader known to this host' };
  if (cluster.leaderSilentMs !== null && cluster.leaderSilentMs > SUSPECT_MS) {
    return { ok: false, reason: `the cluster group's leader ${cluster.leader} has not been heard for ${Math.round(cluster.leaderSilentMs)} ms` };
  }
  // An entry committed a moment ago is applied within a turn or two: only a lag that outlasts a
  // periodic pass means the host is behind (a probe must not flap on every metadata change).
  if (cluster.lag > 0 && cluster.behindMs >= passPeriodMs) {
    return { ok: false, reason: `behind the metadata: ${cluster.lag} committed cluster entries not applied here for ${Math.round(cluster.behindMs)} ms` };
  }
  return { ok: true };
}
