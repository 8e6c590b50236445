// Compile-time test of the typed group handles (issue 17, point 9): `npm run typecheck` compiles
// this file, and each `@ts-expect-error` line fails the typecheck unless it IS an error, so a
// handle that stopped checking commands, queries, replies or options would fail it. Never run.
import type { Client } from '../../src/client/client.js';
import type { Host } from '../../src/host/host.js';
import type { CommandOf, GroupHandle, QueryOf, ReplyOf } from '../../src/host/group-handle.js';
import { bank, type BankCommand, type BankQuery } from './fixtures/typed-bank.js';

export async function typedHandles(host: Host, client: Client): Promise<void> {
  for (const account of [host.group('account', bank), client.group('account', bank)]) {
    const balance: number = await account.command({ op: 'deposit', amount: 5 });
    const read: number = await account.query({ op: 'balance' }, { consistency: 'lease', timeoutMs: 100 });
    void balance;
    void read;
    // @ts-expect-error: the bank has no such command
    await account.command({ op: 'steal', amount: 5 });
    // @ts-expect-error: an amount is a number
    await account.command({ op: 'deposit', amount: '5' });
    // @ts-expect-error: a command needs its fields
    await account.command({ op: 'withdraw' });
    // @ts-expect-error: the reply is a number, not a string
    const wrong: string = await account.command({ op: 'deposit', amount: 1 });
    void wrong;
    // @ts-expect-error: a command is not a query
    await account.query({ op: 'deposit', amount: 1 });
    // @ts-expect-error: no such consistency
    await account.query({ op: 'balance' }, { consistency: 'eventual' });
  }
  // The machine's types, named, for a handle kept in a field.
  const handle: GroupHandle<CommandOf<typeof bank>, ReplyOf<typeof bank>, QueryOf<typeof bank>> = host.group('account', bank);
  const command: BankCommand = { op: 'withdraw', amount: 1 };
  const query: BankQuery = { op: 'balance' };
  await handle.command(command);
  await handle.query(query);
  // The untyped calls stay: any command, the reply type the caller says.
  const untyped: string = await host.command<string>('account', { anything: true });
  const untypedClient: number = await client.query<number>('account', null);
  void untyped;
  void untypedClient;
}
