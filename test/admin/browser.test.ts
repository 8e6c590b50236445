// The status page in a real browser: headless Chromium (Debian's `chromium`, or CHROMIUM_PATH)
// driven by playwright-core opens the page of a live 3-host in-process fleet, checks what it
// draws, kills a host and waits for the page's own refresh to show it failed and its group
// flagged, with no request leaving the admin port's origin and no script error or CSP violation.
// The screenshot is kept under tmp/test-artifacts/ (gitignored). Chromium comes from Debian,
// installed by the test command (scripts/ensure-chromium.mjs); playwright-core is a dev dependency.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { TestFleet, waitFor } from '../fleet/harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = new URL('../../tmp/test-artifacts/', import.meta.url);

/** Chromium is a test dependency the test command installs (scripts/ensure-chromium.mjs). */
if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run node scripts/ensure-chromium.mjs (apt-get install chromium), or set CHROMIUM_PATH`);

describe('the status page in headless Chromium', () => {
  const fleet = new TestFleet();
  let admin: AdminServer;
  let browser: Browser;
  let lonely = '';

  before(async () => {
    const [h1] = await fleet.activate(3);
    for (let i = 0; lonely === '' && i < 40; i++) {
      await h1!.addGroup(`lonely-${i}`, { machine: 'counter', replicas: 1 });
      if (h1!.placement(`lonely-${i}`)[0] === 'h3') lonely = `lonely-${i}`;
    }
    await h1!.addGroup('shared', { machine: 'counter', replicas: 3 });
    await waitFor('groups led', async () => (await h1!.whereIsLeader(lonely)) === 'h3' && (await h1!.whereIsLeader('shared')) !== null);
    admin = await startAdminServer('127.0.0.1:0', { host: h1! });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  });

  after(async () => {
    await browser?.close();
    await admin?.close();
    await fleet.stopAll();
  });

  it('draws the fleet, then a killed host failed and its group flagged, by its own refresh', { timeout: 60_000 }, async () => {
    assert.notEqual(lonely, '');
    const page = await browser.newPage();
    const origin = `http://${admin.address}`;
    const foreign: string[] = [];
    const errors: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(`${origin}/`)) foreign.push(r.url());
    });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${origin}/`);
    await waitFor('three hosts drawn', async () => (await page.locator('.host').count()) === 3);
    assert.deepEqual(await page.locator('.zone h2').allTextContents(), ['zone a', 'zone b']);
    assert.equal(await page.locator('.problems li').first().getAttribute('class'), 'ok', 'nothing wrong at first');
    assert.match((await page.locator('h1').allTextContents())[0] ?? '', /host h1 \(active, zone a\)/);
    assert.ok((await page.locator('.leader').count()) >= 2, 'the leaders of lonely and shared are marked');

    await fleet.kill('h3');
    // No reload: the page's own refresh must bring the news.
    await page.locator('.problems li.bad').filter({ hasText: /^host h3 is failed$/ }).waitFor({ timeout: 30_000 });
    assert.match((await page.locator('.host').filter({ hasText: /^h3 / }).getAttribute('class')) ?? '', /state-failed/);
    const flagged = await page.locator('.flagged .name').allTextContents();
    assert.ok(flagged.includes(lonely), `${lonely} flagged: ${JSON.stringify(flagged)}`);
    const problems = await page.locator('.problems li').allTextContents();
    assert.ok(problems.includes(`group ${lonely} has no leader`), JSON.stringify(problems));
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: new URL('status-page-killed-host.png', ARTIFACTS).pathname, fullPage: true });
    assert.deepEqual(foreign, [], 'no request leaves the admin port');
    assert.deepEqual(errors, [], 'no script error, no CSP violation');
  });
});
