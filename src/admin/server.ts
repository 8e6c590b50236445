// The optional HTTP admin port of a host: GET /metrics (Prometheus text) and GET /status (JSON:
// this host's members, and the fleet as it sees it). Unauthenticated and read-only: bind it to an
// address only operators reach.

import { createServer } from 'node:http';
import { FlotillaError } from '../common/errors.js';
import { formatAddress, parseAddress } from '../transport/address.js';
import { fleetView } from '../fleet/ops-service.js';
import { collect, render, type MetricSources } from './metrics.js';

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
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('try /metrics or /status\n');
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
  const fleet = local.state === 'active' || local.state === 'deactivating' ? await fleetView(host) : null;
  return { host: local, fleet };
}
