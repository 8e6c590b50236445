// Preloaded into the bench's host processes by `npm run bench -- --cpu-prof DIR` (through
// NODE_OPTIONS=--import, since node refuses --cpu-prof there): samples the main thread with the
// inspector's profiler and writes DIR/<id>-<pid>.cpuprofile when the process exits (the bench stops
// the hosts at the end so that they do). Open it in Chrome DevTools or summarize it with
// bench/compare/profile-summary.ts.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const dir = process.env.FLOTILLA_BENCH_CPU_PROF;
if (dir !== undefined && dir !== '') {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  // The profiler's clock (µs) is the monotonic one process.hrtime reads: note where it stood
  // against the wall clock, so that profile-stalls.ts can line samples up with the hosts' logs.
  const flotillaClock = { wallMs: Date.now(), profilerUs: Number(process.hrtime.bigint() / 1000n) };
  process.on('exit', () => {
    // An in-thread session answers synchronously, so this runs before the process is gone.
    session.post('Profiler.stop', (err, result) => {
      if (err === null && result !== undefined) {
        let id = 'host';
        try {
          id = JSON.parse(process.argv[2] ?? '{}').id ?? 'host';
        } catch {}
        writeFileSync(`${dir}/${id}-${process.pid}.cpuprofile`, JSON.stringify({ ...result.profile, flotillaClock }));
      }
    });
  });
}
