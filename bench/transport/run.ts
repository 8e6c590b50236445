// Transport bench: two host processes on loopback. For frames of 1, 16, 64 and 256 Raft messages
// (an Append carrying one 100-byte entry), measures
//  - round-trip latency of one frame (send a frame, wait for all its echoes): p50 and p99;
//  - throughput with a window of messages in flight: messages echoed per second.
// The echo host answers once per event-loop turn, like the host loop. Runs in about 25 s.
// Usage: node --import tsx bench/transport/run.ts
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageType, message } from '../../src/raft/types.js';
import type { Item } from '../../src/transport/items.js';
import { WsTransport } from '../../src/transport/ws-transport.js';

const BATCHES = [1, 16, 64, 256];
const LATENCY_MS = 1_500;
const THROUGHPUT_MS = 3_000;
const WINDOW_FRAMES = 32;
const ENTRY = new Uint8Array(100);

const secret = randomBytes(16).toString('hex');
const deadline = setTimeout(() => {
  console.error('bench: over 60 s, giving up');
  process.exit(1);
}, 60_000);

const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('./echo-peer.ts', import.meta.url)), secret], {
  stdio: ['pipe', 'pipe', 'inherit'],
});
const peerAddress = await new Promise<string>((resolve, reject) => {
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const match = /ready (\S+)/.exec(out);
    if (match?.[1]) resolve(match[1]);
  });
  child.once('exit', (code) => reject(new Error(`echo peer exited (${String(code)})`)));
});

const host = await WsTransport.start({ hostId: 'bench', listen: '127.0.0.1:0', secret });
host.addPeer('echo', peerAddress);
while (!host.connectedHosts().includes('echo')) await new Promise((resolve) => setTimeout(resolve, 10));

let echoed = 0;
let onEcho: () => void = () => {};
host.onItem(() => {
  echoed++;
  onEcho();
});

function item(seq: number): Item {
  return {
    kind: 'raft',
    groupId: seq % 1000,
    message: message({
      type: MessageType.Append, from: 'bench', to: 'echo', term: 7, index: seq, logTerm: 7, commit: seq,
      entries: [{ index: seq + 1, term: 7, type: 0, data: ENTRY }],
    }),
  };
}

function sendFrame(batch: number, seq: number): void {
  for (let i = 0; i < batch; i++) {
    if (host.send('echo', item(seq + i)) !== 'queued') throw new Error('bench: send refused');
  }
  host.flush();
}

/** Resolves once `echoed` reaches `target`. */
function echoesReach(target: number): Promise<void> {
  if (echoed >= target) return Promise.resolve();
  return new Promise((resolve) => {
    onEcho = () => {
      if (echoed < target) return;
      onEcho = () => {};
      resolve();
    };
  });
}

async function latency(batch: number): Promise<number[]> {
  const samples: number[] = [];
  const end = performance.now() + LATENCY_MS;
  while (performance.now() < end) {
    const start = performance.now();
    sendFrame(batch, samples.length * batch);
    await echoesReach(echoed + batch);
    samples.push(performance.now() - start);
  }
  return samples.sort((x, y) => x - y);
}

/** Keeps WINDOW_FRAMES frames of `batch` messages in flight; returns messages echoed per second. */
async function throughput(batch: number): Promise<{ messages: number; frames: number }> {
  const window = WINDOW_FRAMES * batch;
  const first = echoed;
  let sent = 0;
  const framesBefore = host.stats().framesSent;
  const start = performance.now();
  const end = start + THROUGHPUT_MS;
  let pumping = false;
  await new Promise<void>((resolve) => {
    const pump = (): void => {
      pumping = false;
      if (performance.now() >= end) {
        onEcho = () => {};
        return resolve();
      }
      while (sent - (echoed - first) + batch <= window) {
        sendFrame(batch, sent);
        sent += batch;
      }
    };
    onEcho = () => {
      if (pumping) return;
      pumping = true;
      setImmediate(pump);
    };
    pump();
  });
  await echoesReach(first + sent);
  const seconds = (performance.now() - start) / 1000;
  return { messages: sent / seconds, frames: (host.stats().framesSent - framesBefore) / seconds };
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const rows: string[][] = [];
for (const batch of BATCHES) {
  const rtt = await latency(batch);
  const { messages, frames } = await throughput(batch);
  rows.push([
    String(batch),
    Math.round(messages).toLocaleString('en-US'),
    Math.round(frames).toLocaleString('en-US'),
    (quantile(rtt, 0.5) * 1000).toFixed(0),
    (quantile(rtt, 0.99) * 1000).toFixed(0),
    String(rtt.length),
  ]);
}

const header = ['msgs/frame', 'msgs/s (echoed)', 'frames/s (sent)', 'RTT p50 µs', 'RTT p99 µs', 'RTT samples'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
const line = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
console.log(`transport bench: node ${process.version}, ${cpus().length} cpus, loopback ws, 100-byte entries, ${WINDOW_FRAMES} frames in flight`);
console.log(line(header));
for (const row of rows) console.log(line(row));

clearTimeout(deadline);
await host.close();
child.kill();
