// Many replies (or requests) are ready at once: a loop turn applies a command of every busy group,
// and each one's promise settles on its own. Flushing the transport for each handed the socket one
// small frame apiece, one write call each (writev was the largest single cost of a host at 100
// groups x 256 in flight). A coalesced flush runs once, soon after all of them have queued.

import type { Scheduler } from '../common/scheduler.js';
import type { Transport } from './transport.js';

/** A flush() that runs at most once per macrotask, after whatever else queues meanwhile. */
export function coalescedFlush(transport: Pick<Transport, 'flush'>, scheduler: Pick<Scheduler, 'soon'>): () => void {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    scheduler.soon(() => {
      pending = false;
      transport.flush();
    });
  };
}
