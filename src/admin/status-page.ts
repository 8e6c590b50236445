// The status page the admin port serves at `/`: one self-contained HTML page (inline CSS and
// script, no external asset) that draws the fleet as the serving host sees it: zones as columns,
// hosts with their state, each group's replicas on them with the leader marked, this host's lag,
// quiesced groups dimmed, and what is wrong listed at the top. It refreshes itself from /status.
//
// Names are user input and the trouble lines carry free text (a machine's error message): the
// script writes every value with textContent, never as markup, and the first picture's data is
// embedded as JSON in a non-executed <script type="application/json"> with '<' escaped.

import { createHash } from 'node:crypto';

/** Milliseconds between the page's fetches of /status. */
export const REFRESH_MS = 2000;

/**
 * The page's script. `renderStatus(data, document)` builds the picture from a /status body and
 * returns its root element (a test runs it on a stand-in document); the rest runs only in a window.
 */
export const PAGE_SCRIPT = `'use strict';
function renderStatus(data, doc) {
  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  var root = el('div', 'root');
  if (!data || !data.host) {
    root.appendChild(el('p', 'bad', 'no status from this host'));
    return root;
  }
  var me = data.host;
  var head = el('h1', null, 'flotilla: host ' + me.id + ' (' + me.state + (me.zone ? ', zone ' + me.zone : '') + ')');
  root.appendChild(head);
  var findings = Array.isArray(data.findings) ? data.findings : [];
  var problems = el('ul', 'problems');
  if (findings.length === 0) problems.appendChild(el('li', 'ok', 'nothing wrong that this host can see'));
  findings.forEach(function (f) { problems.appendChild(el('li', 'bad', f)); });
  var warnings = data.fleet && Array.isArray(data.fleet.warnings) ? data.fleet.warnings : [];
  warnings.forEach(function (w) { problems.appendChild(el('li', 'warn', w)); });
  root.appendChild(problems);
  var fleet = data.fleet;
  if (!fleet) {
    root.appendChild(el('p', 'warn', 'this host is ' + me.state + ': it shows no fleet until it is active'));
    return root;
  }
  var local = {};
  (me.members || []).forEach(function (m) { local[m.group] = m; });
  var zones = el('div', 'zones');
  Object.keys(fleet.hosts).sort().forEach(function (zone) {
    var column = el('section', 'zone');
    column.appendChild(el('h2', null, 'zone ' + zone));
    fleet.hosts[zone].forEach(function (h) {
      var card = el('div', 'host state-' + h.state + (h.reachable === false ? ' unreachable' : ''));
      var title = el('h3', null, h.id + ' ');
      title.appendChild(el('span', 'badge', h.state + (h.reachable === false ? ', unreachable' : '') + (h.id === me.id ? ', this host' : '')));
      card.appendChild(title);
      var list = el('ul', 'groups');
      fleet.groups.forEach(function (g) {
        var voters = Array.isArray(g.voters) ? g.voters : null;
        var learners = Array.isArray(g.learners) ? g.learners : [];
        var placed = g.placement.indexOf(h.id) >= 0;
        var voter = voters ? voters.indexOf(h.id) >= 0 : placed;
        var learner = learners.indexOf(h.id) >= 0;
        if (!placed && !voter && !learner) return;
        var m = h.id === me.id ? local[g.name] : undefined;
        var flagged = g.leader === null || (voters !== null && voters.length < g.replicas) || g.offPlacement === true;
        var row = el('li', 'group' + (flagged ? ' flagged' : '') + (m && m.quiesced ? ' quiesced' : ''));
        row.appendChild(el('span', 'name', g.name));
        if (g.leader === h.id) row.appendChild(el('span', 'leader', 'leader'));
        if (g.leader === null) row.appendChild(el('span', 'tag', 'no leader' + (voters === null ? ', members unknown' : '')));
        if (learner) row.appendChild(el('span', 'tag', 'learner'));
        else if (voters !== null && voter && !placed) row.appendChild(el('span', 'tag', 'off placement'));
        else if (voters !== null && placed && !voter) row.appendChild(el('span', 'tag', 'placed, no replica yet'));
        if (m) row.appendChild(el('span', 'tag', 'lag ' + m.lag + (m.quiesced ? ', quiesced' : '')));
        list.appendChild(row);
      });
      card.appendChild(list);
      column.appendChild(card);
    });
    zones.appendChild(column);
  });
  root.appendChild(zones);
  root.appendChild(el('p', 'foot', fleet.groups.length + ' groups; leader marked, flagged groups in red, quiesced ones dimmed; lag as this host sees its own replicas'));
  return root;
}
if (typeof window !== 'undefined') {
  var show = function (data, error) {
    var root = renderStatus(data, document);
    var stamp = document.createElement('p');
    stamp.className = error ? 'foot bad' : 'foot';
    stamp.textContent = (error ? 'refresh failed (' + error + '), showing the last picture; ' : 'updated ') + new Date().toLocaleTimeString();
    root.appendChild(stamp);
    var main = document.getElementById('main');
    while (main.firstChild) main.removeChild(main.firstChild);
    main.appendChild(root);
  };
  var last = JSON.parse(document.getElementById('initial').textContent || 'null');
  show(last, null);
  var refresh = function () {
    fetch('status', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (d) { last = d; show(d, null); }, function (e) { show(last, e && e.message ? e.message : String(e)); })
      .then(function () { setTimeout(refresh, ${REFRESH_MS}); });
  };
  setTimeout(refresh, ${REFRESH_MS});
}
`;

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:1em;background:#fafafa;color:#222}
h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1.1em;margin:0 0 .4em}h3{font-size:1em;margin:0 0 .3em}
.problems{list-style:none;padding:0;margin:0 0 1em}.problems li{padding:.3em .6em;margin:.2em 0;border-radius:4px}
.ok{background:#e3f5e1}.bad{background:#fde2e1;color:#8a1010}.warn{background:#fff4d6}
.zones{display:flex;gap:1em;align-items:flex-start;flex-wrap:wrap}.zone{flex:1;min-width:14em}
.host{background:#fff;border:1px solid #ccc;border-left:6px solid #3a7;border-radius:4px;padding:.5em;margin-bottom:.7em}
.state-deactivating{border-left-color:#e90}.state-inactive{border-left-color:#999;opacity:.7}
.state-failed,.unreachable{border-left-color:#c22;background:#fde2e1}
.badge,.tag,.leader{font-size:.85em;padding:0 .4em;margin-left:.3em;border-radius:3px;background:#eee}
.leader{background:#246;color:#fff}.groups{list-style:none;padding:0;margin:0}.group{padding:.1em 0}
.flagged .name{color:#b00;font-weight:bold}.quiesced{opacity:.45}.foot{color:#666;font-size:.85em}`;

/** The script's hash, for the page's Content-Security-Policy (only that script may run). */
export const SCRIPT_HASH = `sha256-${createHash('sha256').update(PAGE_SCRIPT).digest('base64')}`;

/** The Content-Security-Policy the page is served with: no asset from anywhere, fetches to this origin only. */
export const PAGE_CSP = `default-src 'none'; script-src '${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** JSON that is safe inside a <script> element: no '<' (so no '</script>'), no line separators JavaScript parsers trip on. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value ?? null)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The page, with `initial` (a /status body, or null) drawn before the first fetch. */
export function statusPage(initial: unknown): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>flotilla status</title><style>${STYLE}</style></head>
<body><div id="main"><p>loading...</p></div>
<script type="application/json" id="initial">${jsonForScript(initial)}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
