// Command-line errors and help. A UsageError is the user's mistake in flags or arguments: the
// command prints it with a hint and exits 2; anything else that fails exits 1. This file imports
// nothing, so `flotilla help` and `flotilla --version` load nothing else.

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const FLEET_COMMANDS = ['status', 'add-group', 'remove-group', 'command', 'query', 'deactivate', 'activate'] as const;
export type FleetCommand = (typeof FLEET_COMMANDS)[number];
export type Subcommand = 'host' | FleetCommand;

export function isSubcommand(name: string): name is Subcommand {
  return name === 'host' || (FLEET_COMMANDS as readonly string[]).includes(name);
}

export const HELP = `flotilla: a fleet of Raft groups

Run a host (one per machine):
  flotilla host --id ID --zone ZONE --secret S [--listen HOST:PORT] [--advertise HOST:PORT]
                [--join HOST:PORT ...] [--data-dir DIR] [--storage rocksdb|lmdb|memory]
                [--machines MODULE] [--admin-port [HOST:]PORT] [--drain] [--log-level LEVEL]
                [--tls-cert FILE --tls-key FILE [--tls-ca FILE] [--tls-require-client-cert]]
  flotilla host --config host.json        (the same settings as JSON keys; flags override them)

Talk to a running fleet (through any of its hosts):
  flotilla status        --host HOST:PORT [--json]
  flotilla add-group     NAME --machine M [--replicas N]
  flotilla remove-group  NAME
  flotilla command       GROUP JSON
  flotilla query         GROUP JSON [--consistency linearizable|lease|local]
  flotilla deactivate    HOSTID               (prints the members left as they move off)
  flotilla activate      HOSTID [--zone Z]    (a deactivated host, again, without a restart)
  common: --host HOST:PORT (repeatable; or FLOTILLA_HOSTS=a,b), --secret S (or FLOTILLA_SECRET),
          --timeout MS, --tls-ca FILE [--tls-cert FILE --tls-key FILE] (a fleet with TLS)

Without --machines a host registers two example machines: counter ({"op":"incr","by":1}) and
kv ({"op":"put","key":"k","value":1}, queries {"op":"get","key":"k"}).

flotilla help SUBCOMMAND (or flotilla SUBCOMMAND --help) describes one subcommand's flags;
flotilla --version prints the version.
`;

const FLEET_FLAGS = `
Finding the fleet:
  --host HOST:PORT   a host of the fleet (repeatable; default: FLOTILLA_HOSTS=a,b); one that
                     answers is enough
  --secret S         the cluster secret (default: FLOTILLA_SECRET)
  --timeout MS       deadline of the operation (default 5000)
  --tls-ca FILE      the fleet uses TLS: dial wss://, trusting the CA in FILE (default:
                     FLOTILLA_TLS_CA; --tls or FLOTILLA_TLS=1 alone trusts the system's CAs)
  --tls-cert FILE, --tls-key FILE
                     this client's certificate and key, for hosts that require one (mutual
                     TLS; default: FLOTILLA_TLS_CERT, FLOTILLA_TLS_KEY)`;

const USAGE: Record<Subcommand, string> = {
  host: `usage: flotilla host --id ID --zone ZONE [flags]
       flotilla host --config FILE [flags]

Runs one host until SIGINT or SIGTERM, then stops it cleanly (a second signal exits at once).

  --id ID                  the host's id, tied to its data directory for good (required)
  --zone ZONE              the zone it activates in; groups spread their replicas over zones (required)
  --secret S               the cluster secret every host and client shares (default: FLOTILLA_SECRET)
  --listen HOST:PORT       where to listen for hosts and clients (default 127.0.0.1:0, a free port)
  --advertise HOST:PORT    the address others dial (default: the listen address; required with
                           --listen 0.0.0.0:PORT or [::]:PORT)
  --join HOST:PORT         a host of the fleet, or ID@HOST:PORT (repeatable; none: found a new fleet)
  --data-dir DIR           where the store lives (required unless --storage memory)
  --storage ENGINE         rocksdb (default), lmdb, or memory (everything lost at exit)
  --machines MODULE        a .js or .mjs module exporting \`machines\` (or a default export): state
                           machines by name (a .ts module needs a Node that strips types, 22.18+);
                           default: the examples counter and kv
  --admin-port [HOST:]PORT serve GET /metrics and /status there (host default 127.0.0.1)
  --drain                  on SIGINT/SIGTERM, move every member to other hosts before stopping
  --accept-stale-data-dir  UNSAFE, to salvage data no other replica has: serve from a data
                           directory the fleet refused as older than it has seen (a backup or VM
                           snapshot put back); writes acknowledged after the copy may be lost.
                           The safe way out is a new --id on an empty --data-dir
  --log-level LEVEL        pino level, trace ... fatal or silent (default info)
  --max-connections N      connections held at most, accepted and dialed (default: what the
                           file-descriptor soft limit allows, a quarter of it kept for the store)
  --max-unauthenticated N  accepted connections not yet authenticated, at most (default 128)
  --max-unauthenticated-per-address N
                           of those, from one remote address (default 32)
  --handshake-timeout-ms MS
                           from a connection's TCP accept to its authentication (default 5000)
  --tls-cert FILE          TLS for every connection, hosts' and clients' (wss://; the secret's
  --tls-key FILE           handshake still runs inside): this host's certificate and private key,
                           PEM. Every host of a fleet uses TLS or none does
  --tls-ca FILE            the CA (PEM) that signed the other hosts' certificates (default: the
                           system's CAs); the host checks the certificate of every host it dials
  --tls-require-client-cert
                           mutual TLS: refuse a host or client that presents no certificate signed
                           by --tls-ca
  --config FILE            the settings as a JSON object (keys id, zone, secret, listen, advertise,
                           join, dataDir, storage, machines, adminPort, drain, acceptStaleDataDir, logLevel,
                           maxConnections, maxUnauthenticatedConnections,
                           maxUnauthenticatedPerAddress, handshakeTimeoutMs, tlsCert, tlsKey,
                           tlsCa, tlsRequireClientCert); flags win

Exits 0 after a clean stop, 1 when the host could not start or join, its store failed, or its
data directory is older than the fleet has seen (STORAGE_STALE).
`,
  status: `usage: flotilla status [--json] [--check] [fleet flags]

Prints the hosts by zone (and whether the host asked reaches each), the groups with their leader,
voters and placement, and at the end what is wrong: groups without a leader, with fewer voters
than replicas or off their placement, failed or unreachable hosts, a cluster group without a
leader. Rows with something wrong end in '!'.

  --json             the fleet view as JSON, with the same findings
  --check            exit 1 when anything is wrong, 0 when all is well
${FLEET_FLAGS}
`,
  'add-group': `usage: flotilla add-group NAME --machine M [--replicas N] [fleet flags]

Adds a group running the state machine M (registered by that name on every host).

  --machine M        the machine's name (required)
  --replicas N       how many replicas (default 3)
${FLEET_FLAGS}
`,
  'remove-group': `usage: flotilla remove-group NAME [fleet flags]

Removes the group and deletes its replicas on every host.
${FLEET_FLAGS}
`,
  command: `usage: flotilla command GROUP JSON [fleet flags]

Applies the command JSON (quoted for the shell, e.g. '{"op":"incr","by":2}') to the group,
once, and prints the machine's reply as JSON. A JSON that starts with '-' goes after '--'.
${FLEET_FLAGS}
`,
  query: `usage: flotilla query GROUP JSON [--consistency C] [fleet flags]

Reads the group's state with the query JSON and prints the answer as JSON.

  --consistency C    linearizable (default), lease (the leader answers under its lease, with no
                     quorum round trip) or local (the answering replica's state, maybe stale)
${FLEET_FLAGS}
`,
  deactivate: `usage: flotilla deactivate HOSTID [fleet flags]

Moves every member of the host away, printing its state and the members it still holds as they
move off ("h2: deactivating, 37 members left"; on a terminal one line updated in place), and
ends, exit 0, once the host is inactive: it holds nothing and can be stopped, or activated again.
--timeout MS bounds the wait (default 120000; the drain goes on in the host past it). Exits 1 if
the host is activated again meanwhile (that cancels the drain).
${FLEET_FLAGS}
`,
  activate: `usage: flotilla activate HOSTID [--zone Z] [fleet flags]

Activates a running host that was deactivated (or started without activating), without a
restart: placement puts members on it again. While it still drains, this cancels the drain (its
members stay) and only its own zone is accepted.

  --zone Z           the zone to activate it in (default: the zone it was active in; another zone
                     only once it is inactive)
${FLEET_FLAGS}
`,
};

export function usageOf(command: Subcommand): string {
  return USAGE[command];
}
