// Issue 17, point 8: Host.start and connect() check their options before they open anything,
// with BAD_ARGUMENT naming the option (message and details.option): unknown keys, wrong types,
// numbers out of range, a missing secret. A value is never shown, so a secret is never echoed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, type ConnectOptions } from '../../src/client/client.js';
import { isFlotillaError } from '../../src/common/errors.js';
import { Host } from '../../src/host/host.js';
import type { HostOptions } from '../../src/host/options.js';
import { MemoryHub } from '../../src/transport/memory-transport.js';
import { counter } from '../fleet/harness.js';

function naming(option: string, pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(isFlotillaError(err, 'BAD_ARGUMENT'), String(err));
    assert.equal(err.details.option, option, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

const base: HostOptions = { id: 'h1', storage: 'memory', secret: 'the secret', machines: { counter } };
const start = (options: Record<string, unknown>) => Host.start({ ...base, ...options } as HostOptions);

describe('Host.start options', () => {
  it('refuses an unknown option, saying which ones there are', async () => {
    await assert.rejects(start({ tickMS: 10 }), naming('tickMS', /^Host\.start: unknown option tickMS \(the options are id, listen, .*tickMs/));
  });

  it('refuses a wrong type or an out-of-range number, naming the option and what it must be', async () => {
    await assert.rejects(start({ tickMs: 0 }), naming('tickMs', /^Host\.start: option tickMs must be an integer of at least 1, got 0$/));
    await assert.rejects(start({ tickMs: '50' }), naming('tickMs', /must be an integer of at least 1, got a string$/));
    await assert.rejects(start({ quiesceAfterTicks: -1 }), naming('quiesceAfterTicks', /at least 0, got -1/));
    await assert.rejects(start({ clusterReplicas: 9 }), naming('clusterReplicas', /must be an integer from 1 to 7, got 9/));
    await assert.rejects(start({ hostFailureTimeoutMs: 2.5 }), naming('hostFailureTimeoutMs', /got 2\.5/));
    await assert.rejects(start({ join: 'h2@127.0.0.1:7000' }), naming('join', /must be an array of strings, got a string/));
    await assert.rejects(start({ storage: 'sqlite' }), naming('storage', /must be one of 'rocksdb', 'lmdb', 'memory'/));
    await assert.rejects(start({ acceptStaleDataDir: 'yes' }), naming('acceptStaleDataDir', /true or false/));
    await assert.rejects(start({ onApply: {} }), naming('onApply', /a function, got an object/));
    await assert.rejects(start({ heartbeatTicks: 20 }), naming('heartbeatTicks', /heartbeatTicks \(20\) must be below electionTicks \(20\)/));
    await assert.rejects(Host.start(null as unknown as HostOptions), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && /takes an object of options, got null/.test(err.message));
  });

  it('needs the secret unless a transport is given, and never shows it', async () => {
    await assert.rejects(start({ secret: undefined }), naming('secret', /option secret is required/));
    await assert.rejects(start({ secret: '' }), naming('secret', /must be a non-empty string, got an empty string/));
    await assert.rejects(start({ secret: 12345678 }), naming('secret', /a non-empty string, got 12345678/));
    await assert.rejects(start({ id: undefined }), naming('id', /option id is required/));
    const host = await start({ secret: undefined, transport: new MemoryHub().endpoint('h1') });
    await host.stop();
  });

  it('starts with every option well formed', async () => {
    const host = await start({ tickMs: 20, electionTicks: 8, heartbeatTicks: 2, quiesceAfterTicks: 0, clusterReplicas: 1, timeoutMs: 1000, listen: '127.0.0.1:0', join: [] });
    await host.stop();
  });
});

describe('connect options', () => {
  const good: ConnectOptions = { hosts: ['127.0.0.1:1'], secret: 's' };
  const attempt = (options: Record<string, unknown>) => connect({ ...good, ...options } as ConnectOptions);

  it('refuses unknown options, wrong types, out-of-range numbers and a missing secret, naming the option', async () => {
    await assert.rejects(attempt({ timeout: 100 }), naming('timeout', /^connect: unknown option timeout \(the options are hosts, secret, tls, timeoutMs/));
    await assert.rejects(attempt({ timeoutMs: 0 }), naming('timeoutMs', /^connect: option timeoutMs must be an integer of at least 1, got 0$/));
    await assert.rejects(attempt({ maxInFlight: 1.5 }), naming('maxInFlight', /got 1\.5/));
    await assert.rejects(attempt({ hosts: '127.0.0.1:1' }), naming('hosts', /an array of strings, got a string/));
    await assert.rejects(attempt({ hosts: [] }), naming('hosts', /at least one host address/));
    await assert.rejects(attempt({ secret: undefined }), naming('secret', /option secret is required/));
    await assert.rejects(attempt({ tls: 'on' }), naming('tls', /must be an object, got a string/));
    await assert.rejects(connect(undefined as unknown as ConnectOptions), (err) => isFlotillaError(err, 'BAD_ARGUMENT') && /^connect takes an object of options, got undefined$/.test(err.message));
  });
});
