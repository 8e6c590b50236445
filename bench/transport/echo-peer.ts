// The far host of the transport bench, in its own process: echoes every item back to its sender
// and flushes once per event-loop turn, as the host loop does.
// Usage: node --import tsx bench/transport/echo-peer.ts <secret>; prints "ready <address>".
import { WsTransport } from '../../src/transport/ws-transport.js';

const transport = await WsTransport.start({ hostId: 'echo', listen: '127.0.0.1:0', secret: process.argv[2] ?? '' });
let flushQueued = false;
transport.onItem((from, item) => {
  transport.send(from, item);
  if (flushQueued) return;
  flushQueued = true;
  setImmediate(() => {
    flushQueued = false;
    transport.flush();
  });
});
// The parent going away closes our stdin: leave with it.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
process.stdout.write(`ready ${transport.address}\n`);
