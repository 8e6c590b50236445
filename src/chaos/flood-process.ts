// The socket flood of `npm run chaos` (stress.ts), in its own process, as anyone who reaches a
// host's port could do it without the secret: it holds `sockets` TCP connections to `address`,
// from the given local addresses in turn, a third silent, a third an HTTP request that never ends,
// a third a WebSocket upgrade that then says nothing; each socket the host closes is opened again
// after REOPEN_MS, so the pressure lasts until the process is killed. Forked with one argument per
// field: address sockets localAddresses (comma-separated). Sends its counts to the parent every
// REPORT_MS and exits when the parent goes.
import { connect } from 'node:net';

export interface FloodCounts {
  opened: number;
  connected: number;
  open: number;
  /** Sockets the host closed or refused: its accept gate at work. */
  closedByHost: number;
}

const REOPEN_MS = 200;
const REPORT_MS = 250;
const PARTIAL_HTTP = 'GET /flotilla/id HTTP/1.1\r\nHost: flood\r\n';
const UPGRADE = 'GET / HTTP/1.1\r\nHost: flood\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

const [address = '', socketsText = '', localText = ''] = process.argv.slice(2);
const port = Number(address.slice(address.lastIndexOf(':') + 1));
const host = address.slice(0, address.lastIndexOf(':'));
const locals = localText.split(',').filter((a) => a !== '');
const counts: FloodCounts = { opened: 0, connected: 0, open: 0, closedByHost: 0 };

function open(i: number): void {
  counts.opened++;
  counts.open++;
  const socket = connect({ host, port, localAddress: locals[i % locals.length] });
  socket.on('connect', () => {
    counts.connected++;
    if (i % 3 === 1) socket.write(PARTIAL_HTTP);
    if (i % 3 === 2) socket.write(UPGRADE);
  });
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    counts.open--;
    counts.closedByHost++;
    setTimeout(() => open(i), REOPEN_MS);
  });
}

if (process.send === undefined || !Number.isInteger(port) || locals.length === 0) {
  process.stderr.write('usage: fork flood-process.ts host:port sockets localAddress[,localAddress...] (with an IPC channel)\n');
  process.exit(2);
}
for (let i = 0; i < Number(socketsText); i++) open(i);
setInterval(() => process.send?.(counts), REPORT_MS);
process.on('disconnect', () => process.exit(0));
