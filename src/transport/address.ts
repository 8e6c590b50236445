// Host addresses are 'host:port' strings ('[v6]:port' for IPv6 literals).
import { FlotillaError } from '../common/errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export function parseAddress(address: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (host === undefined || !(port >= 0 && port <= 65_535)) {
    throw new FlotillaError('BAD_ARGUMENT', `not a 'host:port' address: ${JSON.stringify(address)}`);
  }
  return { host, port };
}

export function formatAddress({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
