// Makes sure the browser the status page's test drives is installed: Debian's chromium (the test
// uses it through playwright-core, which downloads no browser of its own). Run by `npm test`
// before the tests. As root it installs the package with apt-get when /usr/bin/chromium is missing
// (or CHROMIUM_PATH names a missing file); otherwise it says what to install and fails.
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const path = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (existsSync(path)) process.exit(0);
if (process.env.CHROMIUM_PATH !== undefined) {
  console.error(`ensure-chromium: CHROMIUM_PATH is ${path}, which does not exist`);
  process.exit(1);
}
if (process.getuid?.() !== 0) {
  console.error('ensure-chromium: the status page test needs Chromium: install it as root (apt-get install chromium) or set CHROMIUM_PATH');
  process.exit(1);
}
const apt = (args) => {
  console.log(`ensure-chromium: apt-get ${args.join(' ')}`);
  const run = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return run.status === 0;
};
if (!apt(['install', '-y', 'chromium']) && !(apt(['update']) && apt(['install', '-y', 'chromium']))) {
  console.error('ensure-chromium: apt-get could not install chromium');
  process.exit(1);
}
if (!existsSync(path)) {
  console.error(`ensure-chromium: chromium installed, but ${path} is not there`);
  process.exit(1);
}
