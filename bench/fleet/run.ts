// The fleet's control plane on real host processes: now part of `npm run bench` (bench/run.ts).
// `npm run bench:fleet` runs only its control-plane scenarios: time to add N groups, idle CPU and
// memory, failover after SIGKILL (and replacement of the killed host's members), and a drain under
// load with the commands that failed meanwhile.
//
//   npm run bench:fleet [-- --fleet-groups 1000] [--with-etcd] [--json FILE]
import { main } from '../run.js';

process.exitCode = await main(['--only', 'add-groups,idle,failover,drain', ...process.argv.slice(2)]);
