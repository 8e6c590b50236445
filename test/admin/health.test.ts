// The admin port's probes and status page on a live 3-host in-process fleet: /healthz and /readyz
// answer 200 on healthy active hosts and 503 with a reason on a host not active yet, a stopped
// host, a host whose loop failed (fail-stop on a write error) and (readyz) a host whose cluster
// group lost its quorum; `/` is one self-contained HTML
// page (no external URL, a CSP that lets only its own script run) whose script, run on a stand-in
// document, draws a killed host as failed and its group flagged, and shows hostile text as text.
import assert from 'node:assert/strict';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { readyz, startAdminServer, type AdminServer } from '../../src/admin/server.js';
import { PAGE_SCRIPT, SCRIPT_HASH, statusPage } from '../../src/admin/status-page.js';
import type { Host } from '../../src/host/host.js';
import { TestFleet, waitFor } from '../fleet/harness.js';

interface Probe {
  status: number;
  body: { ok: boolean; reason?: string };
}

async function probe(admin: AdminServer, path: '/healthz' | '/readyz'): Promise<Probe> {
  const res = await fetch(`http://${admin.address}${path}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  return { status: res.status, body: (await res.json()) as Probe['body'] };
}

/** A stand-in for the browser's document: elements that keep their tag, class, text and children. */
interface Node {
  tag: string;
  className: string;
  text: string;
  children: Node[];
}

function fakeDocument() {
  const make = (tag: string): Node & { appendChild(n: Node): void; textContent: string } => {
    const node = {
      tag,
      className: '',
      text: '',
      children: [] as Node[],
      appendChild(n: Node) {
        node.children.push(n);
      },
      set textContent(v: string) {
        node.text = v;
      },
      get textContent() {
        return node.text;
      },
    };
    return node;
  };
  return { createElement: make };
}

/** The page script's picture of a /status body. */
function draw(body: unknown): Node {
  const context: Record<string, unknown> = {};
  runInNewContext(PAGE_SCRIPT, context);
  return (context.renderStatus as (data: unknown, doc: unknown) => Node)(body, fakeDocument());
}

function all(node: Node): Node[] {
  return [node, ...node.children.flatMap(all)];
}

function withClass(node: Node, cls: string): Node[] {
  return all(node).filter((n) => n.className.split(' ').includes(cls));
}

function text(node: Node): string {
  return [node.text, ...node.children.map(text)].join(' ');
}

async function statusOf(admin: AdminServer): Promise<{ host: { id: string }; fleet: { hosts: Record<string, Array<{ id: string; state: string; reachable?: boolean }>>; groups: Array<{ name: string; leader: string | null; placement: string[] }> } | null; findings: string[] }> {
  const res = await fetch(`http://${admin.address}/status`);
  assert.equal(res.status, 200);
  return (await res.json()) as Awaited<ReturnType<typeof statusOf>>;
}

describe('admin port: health checks and the status page', () => {
  const fleet = new TestFleet();
  const admins = new Map<string, AdminServer>();
  let hosts: Host[] = [];

  before(async () => {
    hosts = await fleet.activate(3);
    for (const h of hosts) admins.set(h.id, await startAdminServer('127.0.0.1:0', { host: h }));
  });

  after(async () => {
    for (const a of admins.values()) await a.close();
    await fleet.stopAll();
  });

  it('answers 200 on /healthz and /readyz of every active host of a healthy fleet', async () => {
    for (const h of hosts) {
      const admin = admins.get(h.id)!;
      assert.deepEqual(await probe(admin, '/healthz'), { status: 200, body: { ok: true } });
      await waitFor(`${h.id} ready`, async () => (await probe(admin, '/readyz')).status === 200);
      assert.deepEqual((await probe(admin, '/readyz')).body, { ok: true });
    }
  });

  it('answers /readyz 503 with a reason on a host that is alive but not active yet', async () => {
    const h4 = await fleet.start('h4', ['h1@h1']);
    const admin = await startAdminServer('127.0.0.1:0', { host: h4 });
    try {
      assert.deepEqual(await probe(admin, '/healthz'), { status: 200, body: { ok: true } });
      const ready = await probe(admin, '/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.ok, false);
      assert.match(ready.body.reason ?? '', /h4 is inactive, not active/);
      await h4.stop();
      const stopped = await probe(admin, '/healthz');
      assert.equal(stopped.status, 503);
      assert.match(stopped.body.reason ?? '', /h4 is stopped/);
      assert.equal((await probe(admin, '/readyz')).status, 503, 'a host that is not healthy is not ready');
    } finally {
      await admin.close();
      fleet.hosts.delete('h4');
    }
  });

  it('serves the status page: HTML, self-contained, its own script alone allowed to run', async () => {
    const admin = admins.get('h1')!;
    const res = await fetch(`http://${admin.address}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /default-src 'none'/);
    assert.ok(csp.includes(`script-src '${SCRIPT_HASH}'`), 'only the page script runs');
    const html = await res.text();
    assert.match(html, /^<!doctype html>/);
    assert.ok(!/(https?:)?\/\/[a-z0-9]/i.test(html), 'no external URL');
    assert.ok(!/\b(src|href)\s*=/i.test(html), 'no asset loaded: no src or href attribute');
    assert.ok(html.includes(`<script>${PAGE_SCRIPT}</script>`));
    assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(PAGE_SCRIPT), 'the script writes text, never markup');
    const initial = /<script type="application\/json" id="initial">(.*?)<\/script>/s.exec(html);
    assert.ok(initial !== null, 'the first picture is embedded');
    const body = JSON.parse(initial[1]!) as { host: { id: string } };
    assert.equal(body.host.id, 'h1');
    const picture = draw(body);
    assert.match(text(picture), /flotilla: host h1 \(active, zone a\)/);
    assert.deepEqual(withClass(picture, 'zone').map((z) => z.children[0]!.text), ['zone a', 'zone b']);
    assert.deepEqual(withClass(picture, 'host').length, 3);
  });

  it('embeds and draws hostile text as text, never as markup', () => {
    const hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;\u2028';
    const body = {
      host: { id: 'h1', state: 'active', zone: 'a', members: [{ group: hostile, lag: 0, quiesced: false }] },
      fleet: { host: 'h1', hosts: { [hostile]: [{ id: hostile, address: 'x:1', state: 'active' }] }, groups: [{ name: hostile, replicas: 1, placement: [hostile], leader: hostile }], warnings: [hostile] },
      findings: [hostile],
    };
    const html = statusPage(body);
    assert.ok(!html.includes('alert(1)</script>'), 'no closing script tag from the data');
    assert.ok(!html.includes('<img'), 'no element from the data');
    assert.equal((html.match(/<script/g) ?? []).length, 2, 'the page has its two script elements only');
    const initial = /<script type="application\/json" id="initial">(.*?)<\/script>/s.exec(html);
    assert.deepEqual(JSON.parse(initial![1]!), body, 'the data comes back whole');
    const picture = draw(body);
    assert.ok(all(picture).every((n) => /^(div|p|h[1-3]|ul|li|section|span)$/.test(n.tag)), 'only the elements the script makes');
    assert.ok(all(picture).some((n) => n.text === hostile), 'the name is shown verbatim, as text');
  });

  it('shows a killed host as failed and its groups flagged, in /status and on the page', async () => {
    const h1 = hosts[0]!;
    // A single-replica group on h3: it dies with h3 (flotilla does not invent its data elsewhere).
    let lonely = '';
    for (let i = 0; lonely === '' && i < 40; i++) {
      const name = `lonely-${i}`;
      await h1.addGroup(name, { machine: 'counter', replicas: 1 });
      if (h1.placement(name)[0] === 'h3') lonely = name;
    }
    assert.notEqual(lonely, '', 'some group placed on h3');
    await waitFor(`${lonely} led by h3`, async () => (await h1.whereIsLeader(lonely)) === 'h3');
    await h1.addGroup('shared', { machine: 'counter', replicas: 3 });
    await waitFor('shared led', async () => (await h1.whereIsLeader('shared')) !== null);
    admins.get('h3')!.close();
    admins.delete('h3');
    await fleet.kill('h3');
    const admin = admins.get('h1')!;
    await waitFor('h3 failed in /status', async () => {
      const s = await statusOf(admin);
      return s.fleet !== null && Object.values(s.fleet.hosts).flat().some((h) => h.id === 'h3' && h.state === 'failed');
    });
    const s = await statusOf(admin);
    assert.ok(s.findings.includes('host h3 is failed'), `findings: ${JSON.stringify(s.findings)}`);
    assert.ok(s.findings.includes(`group ${lonely} has no leader`), `findings: ${JSON.stringify(s.findings)}`);
    assert.equal(s.fleet!.groups.find((g) => g.name === lonely)!.leader, null);
    assert.equal(Object.values(s.fleet!.hosts).flat().find((h) => h.id === 'h3')!.reachable, false, 'h1 does not hear h3');
    const picture = draw(s);
    const h3 = withClass(picture, 'host').find((n) => n.children[0]!.text.startsWith('h3'));
    assert.ok(h3 !== undefined && h3.className.includes('state-failed') && h3.className.includes('unreachable'), 'the h3 card is drawn failed and unreachable');
    const problems = withClass(picture, 'problems')[0]!;
    assert.ok(problems.children.some((li) => li.className === 'bad' && li.text === 'host h3 is failed'), 'flagged at the top');
    assert.ok(withClass(picture, 'flagged').some((row) => row.children[0]!.text === lonely), `${lonely} is flagged`);
  });

  it('answers /healthz 503 once the host loop failed on a write error (fail-stop)', async () => {
    const h2 = hosts[1]!;
    const admin = admins.get('h2')!;
    fleet.disks.get('h2')!.failNextWrite(new Error('EIO: disk on fire'));
    // Any write fails it: a command to a group with a replica on h2.
    await h2.command('shared', { op: 'inc', by: 1 }, { timeoutMs: 2000 }).catch(() => undefined);
    await waitFor('h2 unhealthy', async () => (await probe(admin, '/healthz')).status === 503);
    const health = await probe(admin, '/healthz');
    assert.deepEqual(health.body.ok, false);
    assert.match(health.body.reason ?? '', /host loop failed: .*disk on fire/);
    assert.equal((await probe(admin, '/readyz')).status, 503);
  });

  it('answers /readyz 503 on a live host once the cluster group lost its quorum (h2 and h3 gone)', async () => {
    const admin = admins.get('h1')!;
    await waitFor('h1 not ready', async () => (await probe(admin, '/readyz')).status === 503);
    const ready = await probe(admin, '/readyz');
    assert.match(ready.body.reason ?? '', /cluster group has no leader|cluster group's leader h[23] has not been heard/);
    assert.deepEqual(await probe(admin, '/healthz'), { status: 200, body: { ok: true } }, 'still alive: a fleet problem is no reason to restart it');
  });
});

describe('/readyz and a cluster replica behind the metadata', () => {
  /** A host as readyz reads it: active, its cluster leader heard just now, `lag` entries behind for `behindMs`. */
  const hostBehind = (lag: number, behindMs: number) =>
    ({
      id: 'h1',
      localState: 'active',
      health: () => ({ loopFailed: null, passPeriodMs: 250, sincePassMs: 10, peerSilentMs: 0, cluster: { lag, behindMs, leader: 'h2', leaderSilentMs: 5 } }),
    }) as unknown as Host;

  it('stays ready while an entry committed a moment ago waits for its turn, and is not once the lag outlasts a pass', () => {
    assert.deepEqual(readyz({ host: hostBehind(0, 0) }), { ok: true });
    assert.deepEqual(readyz({ host: hostBehind(1, 0) }), { ok: true });
    assert.deepEqual(readyz({ host: hostBehind(1, 249) }), { ok: true });
    assert.deepEqual(readyz({ host: hostBehind(3, 400) }), { ok: false, reason: 'behind the metadata: 3 committed cluster entries not applied here for 400 ms' });
  });
});
