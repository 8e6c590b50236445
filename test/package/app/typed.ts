// Type-checked only (tsc --noEmit, strict): the package's declarations as an application uses
// them; each line fails to compile if a type went missing or wrong.
import { Host, connect, FlotillaError, MachineError, isFlotillaError, type ErrorCode, type FleetView, type GroupHandle, type HostOptions, type StateMachine } from 'flotilla';

const counter: StateMachine<number, { by: number }, number, null> = {
  init: () => 0,
  command: (n, cmd) => ({ state: n + cmd.by, reply: n + cmd.by }),
  query: (n) => n,
  snapshot: (n) => new TextEncoder().encode(String(n)),
  restore: (bytes) => Number(new TextDecoder().decode(bytes)),
};

export async function run(options: Omit<HostOptions, 'machines'>): Promise<number> {
  const host: Host = await Host.start({ ...options, machines: { counter } });
  await host.activate('a');
  await host.addGroup('orders', { machine: 'counter', replicas: 1 });
  const client = await connect({ hosts: [host.address], secret: 's', timeoutMs: 1000 });
  const view: FleetView = await client.fleet();
  const zones: string[] = Object.keys(view.hosts);
  // A typed handle: the machine's own command and reply types.
  const orders: GroupHandle<{ by: number }, number, null> = client.group('orders', counter);
  const misuse = (): Promise<number> =>
    // @ts-expect-error: not a command of the counter
    host.group('orders', counter).command({ op: 'incr' });
  void misuse;
  try {
    if (zones.length === 0) throw new MachineError('NO_ZONES', 'no zones', { zones: 0 });
    return (await orders.command({ by: 2 })) + (await client.command<number>('orders', { by: 0 })) * 0 + zones.length;
  } catch (err) {
    const code: ErrorCode | undefined = isFlotillaError(err) ? err.code : undefined;
    const machineCode: string | undefined = isFlotillaError(err) ? err.machineCode : undefined;
    void machineCode;
    throw new FlotillaError(code ?? 'UNAVAILABLE', 'failed');
  } finally {
    await client.close();
    await host.stop();
  }
}
