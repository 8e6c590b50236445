// Command-line errors and help. A UsageError is the user's mistake in flags or arguments: the
// command prints it with a hint and exits 2; anything else that fails exits 1.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const HELP = `flotilla: a fleet of Raft groups

Run a host (one per machine):
  flotilla host --id ID --zone ZONE --secret S [--listen HOST:PORT] [--advertise HOST:PORT]
                [--join HOST:PORT ...] [--data-dir DIR] [--storage rocksdb|lmdb|memory]
                [--machines MODULE] [--admin-port [HOST:]PORT] [--drain] [--log-level LEVEL]
  flotilla host --config host.json        (the same settings as JSON keys; flags override them)

Talk to a running fleet (through any of its hosts):
  flotilla status        --host HOST:PORT [--json]
  flotilla add-group     NAME --machine M [--replicas N]
  flotilla remove-group  NAME
  flotilla command       GROUP JSON
  flotilla query         GROUP JSON [--consistency linearizable|lease|local]
  flotilla deactivate    HOSTID
  common: --host HOST:PORT (repeatable; or FLOTILLA_HOSTS=a,b), --secret S (or FLOTILLA_SECRET),
          --timeout MS

Without --machines a host registers two example machines: counter ({"op":"incr","by":1}) and
kv ({"op":"put","key":"k","value":1}, queries {"op":"get","key":"k"}).
`;
