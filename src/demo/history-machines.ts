// The state machines `npm run chaos` (src/chaos/) drives, registered by every host process
// (host-process.ts) next to the demo's: the fleet simulation's kv and counter machines,
// whose commands carry one history operation each ({ id, input: OpInput }) and whose replies are
// that operation's output, exactly the model the linearizability checker holds histories to.
import type { AnyMachine } from '../host/options.js';
import { fleetCounter, fleetKv } from '../sim/fleet-machines.js';

export const HISTORY_KV = 'history-kv';
export const HISTORY_COUNTER = 'history-counter';

export const historyMachines: Record<string, AnyMachine> = { [HISTORY_KV]: fleetKv, [HISTORY_COUNTER]: fleetCounter };
