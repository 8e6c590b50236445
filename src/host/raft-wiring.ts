// Wiring a HostLoop to a Transport for Raft traffic. HostLoop takes its `send` callback in its
// constructor, so the wiring comes in two halves:
//
//   const wiring = wireLoopToTransport(transport, (member) => member);
//   const loop = new HostLoop({ store, tickMs, send: wiring.send });
//   const detach = wiring.attach(loop);
//
// Outgoing: each turn's messages become 'raft' items queued to the host that owns `message.to`,
// then one flush() per turn, so each destination gets one frame per turn. Items the transport
// refuses (busy, unreachable) are dropped: Raft retransmits. Incoming: every 'raft' item is
// stepped into its group on the loop; other item kinds are left to other handlers.

import type { NodeId } from '../raft/types.js';
import type { HostId } from '../transport/items.js';
import type { Transport } from '../transport/transport.js';
import type { HostLoop, Outgoing } from './host-loop.js';

/** What the wiring needs of the loop: somewhere to step incoming messages. */
export type RaftReceiver = Pick<HostLoop, 'step'>;

export interface RaftWiring {
  /** Pass as HostLoopOptions.send. */
  readonly send: (messages: Outgoing[]) => void;
  /** Routes incoming 'raft' items to `loop`; returns a function that stops it. */
  attach(loop: RaftReceiver): () => void;
  /** Raft messages the transport did not queue (dropped; Raft retransmits). */
  readonly stats: { sent: number; refused: number; received: number };
}

/**
 * @param memberHost the host that runs a Raft member (identity when member ids are host ids).
 * Messages to a member on this host are stepped locally, in a later event-loop turn.
 */
export function wireLoopToTransport(transport: Transport, memberHost: (memberId: NodeId) => HostId = (id) => id): RaftWiring {
  let receiver: RaftReceiver | null = null;
  const stats = { sent: 0, refused: 0, received: 0 };

  const send = (messages: Outgoing[]): void => {
    const local: Outgoing[] = [];
    for (const out of messages) {
      const to = memberHost(out.message.to);
      if (to === transport.hostId) {
        local.push(out);
        continue;
      }
      const status = transport.send(to, { kind: 'raft', groupId: out.groupId, message: out.message });
      if (status === 'queued') stats.sent++;
      else stats.refused++;
    }
    transport.flush();
    if (local.length > 0) {
      setImmediate(() => {
        for (const { groupId, message } of local) receiver?.step(groupId, message);
      });
    }
  };

  const attach = (loop: RaftReceiver): (() => void) => {
    receiver = loop;
    const unsubscribe = transport.onItem((_from, item) => {
      if (item.kind !== 'raft') return;
      stats.received++;
      loop.step(item.groupId, item.message);
    });
    return () => {
      unsubscribe();
      if (receiver === loop) receiver = null;
    };
  };

  return { send, attach, stats };
}
