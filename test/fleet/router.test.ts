import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FlotillaError } from '../../src/common/errors.js';
import { fleetLimits } from '../../src/fleet/limits.js';
import { Router } from '../../src/fleet/router.js';
import { realScheduler } from '../../src/common/scheduler.js';
import type { ClientRequestItem, ClientResponseItem, HostId } from '../../src/transport/items.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';

/** A router on 'c' and two hosts that record the requests they get and answer when told to. */
function setup(firstRequestId: number) {
  const hub = new MemoryHub();
  const c = hub.endpoint('c');
  const hosts = { h1: hub.endpoint('h1'), h2: hub.endpoint('h2') };
  c.addPeer('h1', 'h1');
  c.addPeer('h2', 'h2');
  hub.deliver();
  const router = new Router({
    hostId: 'c',
    transport: c,
    scheduler: realScheduler,
    clientId: 'c.1',
    firstRequestId,
    serveLocal: () => Promise.reject(new Error('not a host')),
    candidates: () => ['h1'],
    limits: fleetLimits(c.maxFrameBytes),
  });
  c.onItem((from, item) => {
    if (item.kind === 'clientResponse') router.onResponse(from, item);
  });
  const requests: ClientRequestItem[] = [];
  hosts.h1.onItem((_from, item) => {
    if (item.kind === 'clientRequest') requests.push(item);
  });
  const answer = (host: HostId & keyof typeof hosts, requestId: number, text: string): void => {
    const response: ClientResponseItem = {
      kind: 'clientResponse', requestId, error: null, payload: new TextEncoder().encode(text), leaderHint: host, leaderTerm: 1,
    };
    hosts[host].send('c', response);
    hosts[host].flush();
    hub.deliver();
  };
  return { hub, router, requests, answer };
}

/** Past the router's coalesced flush (it hands requests to the transport soon, not at once). */
function flushed(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

describe('router', () => {
  it('refuses a command or query over its limit at once, sending nothing', async () => {
    const { hub, router, requests } = setup(1);
    const { maxCommandBytes, maxQueryBytes } = fleetLimits(4 * 1024 * 1024);
    for (const [kind, limit, name] of [['command', maxCommandBytes, 'maxCommandBytes'], ['query', maxQueryBytes, 'maxQueryBytes'], ['admin', maxQueryBytes, 'maxQueryBytes']] as const) {
      await assert.rejects(router.call('orders', kind, new Uint8Array(limit + 1), { timeoutMs: 5000 }), (err: unknown) => {
        assert.ok(err instanceof FlotillaError && err.code === 'BAD_ARGUMENT', String(err));
        assert.match(err.message, new RegExp(`the ${kind} is ${limit + 1} bytes, more than ${name} \\(${limit} bytes\\)`));
        return true;
      });
    }
    await flushed();
    hub.deliver();
    assert.equal(requests.length, 0);
  });

  it('numbers requests from firstRequestId and takes an answer only from the host it asked', async () => {
    const { hub, router, requests, answer } = setup(2 ** 40);
    const reply = router.call('orders', 'query', new Uint8Array(0), { timeoutMs: 5000 });
    await flushed();
    hub.deliver();
    assert.equal(requests.length, 1);
    assert.equal(requests[0]!.requestId, 2 ** 40);
    // Another host answering the same id (a late answer meant for an earlier run) is ignored.
    answer('h2', 2 ** 40, 'from h2');
    answer('h1', 2 ** 40, 'from h1');
    assert.equal(new TextDecoder().decode(await reply), 'from h1');
  });

  it("a later run's router does not take an earlier run's late answer for its own request", async () => {
    // Run 1 asked h1 with id 7 and died; run 2 starts elsewhere and asks h1 too.
    const { hub, router, requests, answer } = setup(1000);
    const reply = router.call('orders', 'query', new Uint8Array(0), { timeoutMs: 5000 });
    await flushed();
    hub.deliver();
    answer('h1', 7, 'for run 1');
    answer('h1', requests[0]!.requestId, 'for run 2');
    assert.equal(new TextDecoder().decode(await reply), 'for run 2');
  });

  it("asks a host it must ask alone (only) for the whole timeout, not one attempt's second", async () => {
    // An activate during a drain took over a second on a loaded machine, and the client heard
    // TIMEOUT "host h3 did not answer in 1000 ms" while h3 was still at it.
    const { hub, router, requests, answer } = setup(1);
    const reply = router.call('orders', 'query', new Uint8Array(0), { timeoutMs: 5000, via: 'h1', only: true });
    await flushed();
    hub.deliver();
    assert.equal(requests.length, 1);
    assert.ok(requests[0]!.timeoutMs > 4000, `the host is given the call's time: ${requests[0]!.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    answer('h1', requests[0]!.requestId, 'late but in time');
    assert.equal(new TextDecoder().decode(await reply), 'late but in time');
    // Any host may serve: one attempt waits a second at most before the next candidate.
    const other = router.call('orders', 'query', new Uint8Array(0), { timeoutMs: 5000 });
    await flushed();
    hub.deliver();
    assert.ok(requests[1]!.timeoutMs <= 1000, `one attempt: ${requests[1]!.timeoutMs} ms`);
    answer('h1', requests[1]!.requestId, 'quick');
    await other;
  });

  it('after an attempt that may have been applied, BUSY is not a definite failure: it asks again', async () => {
    const hub = new MemoryHub({ autoDeliver: true });
    const c = hub.endpoint('c');
    const h1 = hub.endpoint('h1');
    c.addPeer('h1', 'h1');
    const router = new Router({
      hostId: 'c', transport: c, scheduler: realScheduler, clientId: 'c.2', firstRequestId: 1,
      serveLocal: () => Promise.reject(new Error('not a host')),
      candidates: () => ['h1'],
      limits: fleetLimits(c.maxFrameBytes),
    });
    c.onItem((from, item) => {
      if (item.kind === 'clientResponse') router.onResponse(from, item);
    });
    // h1 answers: outcome unknown, then back-pressure, then the session's saved reply.
    const script: Array<ClientResponseItem['error']> = [{ code: 'TIMEOUT', message: 'lost' }, { code: 'BUSY', message: 'full' }, null];
    const seqs: number[] = [];
    h1.onItem((_from, item) => {
      if (item.kind !== 'clientRequest') return;
      seqs.push(item.seq);
      const error = script.shift() ?? null;
      h1.send('c', { kind: 'clientResponse', requestId: item.requestId, error, payload: new TextEncoder().encode('applied once'), leaderHint: 'h1', leaderTerm: 1 });
      h1.flush();
    });
    const reply = await router.call('orders', 'command', new Uint8Array(0), { timeoutMs: 5000 });
    assert.equal(new TextDecoder().decode(reply), 'applied once');
    assert.equal(seqs.length, 3);
    assert.ok(seqs.every((s) => s === seqs[0]), 'every attempt carries the same session sequence');

    // BUSY with no earlier attempt is definite.
    script.push({ code: 'BUSY', message: 'full' });
    await assert.rejects(router.call('orders', 'command', new Uint8Array(0), { timeoutMs: 5000 }), (err: Error & { code?: string }) => err.code === 'BUSY');
  });
});
