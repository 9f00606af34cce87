/**
 * The status page: one HTML document with its CSS and script inline.
 *
 * The markup of the live part comes from one plain-JS function, `render`,
 * run on the server for the first paint and in the browser on every event,
 * so the two can never disagree.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type { StatusJson } from "./status.js"

// Plain JS (no template literals, no imports): it is evaluated here and shipped to the browser as is.
const renderSource = String.raw`function render(s, now) {
  var esc = function(v) {
    return String(v).replace(/[&<>"']/g, function(c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  };
  var pad = function(n) { return (n < 10 ? "0" : "") + n; };
  var time = function(ms) {
    var d = new Date(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " +
      pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds()) + " UTC";
  };
  var ago = function(ms) {
    var s = Math.max(0, Math.round((now - ms) / 1000));
    if (s < 60) return s + " s ago";
    var m = Math.floor(s / 60);
    if (m < 60) return m + " min ago";
    var h = Math.floor(m / 60);
    if (h < 48) return h + " h " + (m % 60) + " min ago";
    return Math.floor(h / 24) + " days ago";
  };
  var describe = {
    Optimal: "Everything works.",
    Degraded: "A non-essential dependency is down; responses may be slower or less fresh.",
    Limited: "An important dependency is down; some features are reduced.",
    Minimal: "The core store is down: reads only, writes are refused.",
    Emergency: "Almost everything is down: only status routes answer."
  };
  var breakerClass = function(b) {
    return b === null ? "none" : (b === "Open" || b === "ForcedOpen") ? "bad" : b === "HalfOpen" ? "warn" : "good";
  };
  var h = "";
  h += '<section class="level level-' + esc(s.level) + '" data-testid="level">';
  h += '<div class="level-name" id="level-name">' + esc(s.level) + '</div>';
  h += '<div class="level-rank">level ' + esc(s.rank) + ' of 5</div>';
  h += '<p class="level-text">' + esc(describe[s.level] || "") + '</p>';
  h += '<p class="since">Since <time id="since" datetime="' + esc(new Date(s.since).toISOString()) + '">' +
    esc(time(s.since)) + '</time> (' + esc(ago(s.since)) + ')</p>';
  if (s.forced) {
    h += '<p class="forced" id="forced"><strong>Forced</strong> to ' + esc(s.forced.level) + ' since ' +
      esc(time(s.forced.since)) + ': ' + esc(s.forced.reason) + '. The dependencies alone would give ' +
      esc(s.computed) + '.</p>';
  } else {
    h += '<p class="forced" id="forced">Not forced: computed from the dependencies.</p>';
  }
  h += '</section>';
  if (s.faults && s.faults.length > 0) {
    h += '<section class="faults" id="faults" data-testid="faults" role="alert">';
    h += '<h2>Fault injection active</h2>';
    h += '<p>These faults are injected on purpose (a drill): the calls they name fail, hang or slow down ' +
      'until an operator clears them.</p>';
    h += '<table id="fault-list"><thead><tr><th>Dependency</th><th>Member</th><th>Fault</th><th>Since</th>' +
      '</tr></thead><tbody>';
    for (var k = 0; k < s.faults.length; k++) {
      var f = s.faults[k];
      h += '<tr data-fault="' + esc(f.dependency) + '" data-member="' + esc(f.member === null ? "*" : f.member) + '">' +
        '<td class="name">' + esc(f.dependency) + '</td>' +
        '<td class="member">' + esc(f.member === null ? "every member" : f.member) + '</td>' +
        '<td class="fault">' + esc(f.description) + '</td>' +
        '<td class="since"><time datetime="' + esc(new Date(f.since).toISOString()) + '">' + esc(time(f.since)) +
        '</time> (' + esc(ago(f.since)) + ')</td>' +
        '</tr>';
    }
    h += '</tbody></table></section>';
  } else if (s.faults) {
    h += '<p class="faults-none" id="faults-none">Fault injection is enabled; no fault is injected.</p>';
  }
  h += '<section><h2>Dependencies</h2>';
  if (s.dependencies.length === 0) {
    h += '<p class="empty">No dependency is registered.</p>';
  } else {
    h += '<table id="dependencies"><thead><tr><th>Dependency</th><th>Health</th><th>Breaker</th>' +
      '<th>When down</th><th>Last check</th></tr></thead><tbody>';
    for (var i = 0; i < s.dependencies.length; i++) {
      var d = s.dependencies[i];
      var check = d.lastCheck === null ? "never" :
        (d.lastCheck.healthy ? "passed " : "failed ") + ago(d.lastCheck.at) +
        (d.lastCheck.error ? " — " + d.lastCheck.error : "");
      h += '<tr data-dependency="' + esc(d.name) + '">' +
        '<td class="name">' + esc(d.name) + '</td>' +
        '<td class="health ' + (d.up ? "good" : "bad") + '">' + (d.up ? "Up" : "Down") + '</td>' +
        '<td class="breaker ' + breakerClass(d.breaker) + '">' + esc(d.breaker === null ? "—" : d.breaker) + '</td>' +
        '<td>' + esc(d.whenDown) + '</td>' +
        '<td class="check" title="' + esc(d.lastCheck === null ? "" : time(d.lastCheck.at)) + '">' + esc(check) + '</td>' +
        '</tr>';
    }
    h += '</tbody></table>';
  }
  h += '</section>';
  h += '<section><h2>Recent transitions</h2>';
  if (s.transitions.length === 0) {
    h += '<p class="empty">No transition yet.</p>';
  } else {
    h += '<ol id="transitions">';
    for (var j = 0; j < s.transitions.length && j < 20; j++) {
      var t = s.transitions[j];
      h += '<li><time>' + esc(time(t.at)) + '</time> <span class="from level-' + esc(t.from) + '">' + esc(t.from) +
        '</span> → <span class="to level-' + esc(t.to) + '">' + esc(t.to) + '</span> <span class="kind">' +
        esc(t.kind) + '</span> <span class="reason">' + esc(t.reason) + '</span></li>';
    }
    h += '</ol>';
  }
  h += '</section>';
  return h;
}`

const renderHtml = new Function(`return (${renderSource})`)() as (status: StatusJson, now: number) => string

const css = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
body { margin: 0; background: #f4f5f7; color: #1d2330; }
main { max-width: 60rem; margin: 0 auto; padding: 1.5rem; }
header { display: flex; justify-content: space-between; align-items: baseline; }
h1 { font-size: 1.4rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.live { font-size: .9rem; color: #555; }
.live::before { content: "●"; margin-right: .35rem; color: #999; }
.live.connected::before { color: #1a7f37; }
.live.disconnected::before { color: #cf222e; }
.level { border-radius: .6rem; padding: 1.2rem 1.5rem; color: #fff; }
.level-name { font-size: 3rem; font-weight: 700; line-height: 1.1; }
.level-rank { font-size: 1rem; opacity: .9; }
.level p { margin: .4rem 0 0; font-size: 1.05rem; }
section.level-Optimal { background: #1a7f37; }
section.level-Degraded { background: #9a6700; }
section.level-Limited { background: #bc4c00; }
section.level-Minimal { background: #cf222e; }
section.level-Emergency { background: #82071e; }
.forced strong { text-transform: uppercase; letter-spacing: .05em; }
table { width: 100%; border-collapse: collapse; background: #fff; border-radius: .4rem; overflow: hidden; }
th, td { text-align: left; padding: .55rem .75rem; border-bottom: 1px solid #e3e5e8; font-size: 1rem; }
th { background: #eaecef; font-weight: 600; }
td.name { font-weight: 600; }
td.good { color: #1a7f37; font-weight: 600; }
td.bad { color: #cf222e; font-weight: 700; }
td.warn { color: #9a6700; font-weight: 700; }
td.check { color: #444; }
ol { background: #fff; border-radius: .4rem; margin: 0; padding: .5rem .5rem .5rem 2.5rem; }
li { padding: .2rem 0; }
li time { color: #555; font-variant-numeric: tabular-nums; }
li .kind { color: #555; font-style: italic; }
.empty { color: #555; }
section.faults { margin-top: 1rem; border-radius: .6rem; padding: 1rem 1.5rem 1.2rem; color: #fff;
  background: repeating-linear-gradient(135deg, #5a32a3 0, #5a32a3 14px, #6f42c1 14px, #6f42c1 28px); }
section.faults h2 { margin: 0 0 .3rem; font-size: 1.5rem; text-transform: uppercase; letter-spacing: .04em; }
section.faults h2::before { content: "⚠ "; }
section.faults p { margin: 0 0 .7rem; }
section.faults table { color: #1d2330; }
td.fault { color: #5a32a3; font-weight: 700; }
.faults-none { color: #555; font-size: .9rem; margin: .6rem 0 0; }
footer { margin-top: 1.5rem; font-size: .85rem; color: #555; }
`

// The page's inline script runs in the reader's browser, not in the service: its "seconds ago" and
// refresh timers use the browser's clock on purpose (the server renders with Effect's Clock).
const client = (statusPath: string, eventsPath: string) => `
${renderSource}
(function() {
  var root = document.getElementById("status");
  var live = document.getElementById("live");
  var updated = document.getElementById("updated");
  var current = JSON.parse(document.getElementById("initial").textContent);
  var show = function(s) {
    current = s;
    root.innerHTML = render(s, Date.now());
    document.title = s.level + " — service status";
    updated.textContent = "Updated " + new Date().toISOString().replace("T", " ").slice(0, 19) + " UTC";
  };
  var refresh = function() {
    fetch(${scriptJson(statusPath)}, { headers: { accept: "application/json" }, cache: "no-store" })
      .then(function(r) { return r.json(); })
      .then(show)
      .catch(function() {});
  };
  setInterval(function() { root.innerHTML = render(current, Date.now()); }, 10000);
  if (typeof EventSource !== "function") { setInterval(refresh, 5000); return; }
  var connect = function() {
    var source = new EventSource(${scriptJson(eventsPath)});
    source.onopen = function() { live.className = "live connected"; live.textContent = "Live"; };
    source.onerror = function() {
      live.className = "live disconnected";
      live.textContent = "Reconnecting…";
      // EventSource gives up on an answer other than 200 (a 503 when too many streams are open):
      // poll once, then try again later.
      if (source.readyState === 2) { refresh(); setTimeout(connect, 5000); }
    };
    source.onmessage = function(event) {
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      live.className = "live connected";
      live.textContent = "Live";
      if (data.type === "level" && data.dependencies) show(data); else refresh();
    };
  };
  connect();
})();
`

// `</script>` inside JSON would end the script element early.
const scriptJson = (value: unknown): string =>
  JSON.stringify(value).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029")

const escape = (value: string): string =>
  value.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" })[c]!)

/** The CSP source that allows exactly `text` as an inline `<script>` or `<style>`. @internal */
export const hashSource = (text: string): string =>
  `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

// The stylesheet is the same on every page: hashed once.
const styleSource = hashSource(css)

/** The page of one router: its script (with the router's paths) is hashed once, here. @internal */
export interface StatusPage {
  readonly render: (status: StatusJson, now: number) => string
  /** The page's headers; the CSP allows its one inline script and stylesheet by hash, nothing else. */
  readonly headers: Readonly<Record<string, string>>
}

/** The page served at `statusPath`, live through `eventsPath`. @internal */
export const make = (options: {
  readonly title: string
  readonly statusPath: string
  readonly eventsPath: string
}): StatusPage => {
  const script = client(options.statusPath, options.eventsPath)
  const title = escape(options.title)
  const jsonLink = `${escape(options.statusPath)}?format=json`
  const headers = {
    "content-security-policy": `default-src 'none'; style-src ${styleSource}; script-src ${
      hashSource(script)
    }; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    "cache-control": "no-store",
    vary: "Accept",
    "x-content-type-options": "nosniff"
  }
  const render = (status: StatusJson, now: number): string =>
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${escape(status.level)} — service status</title>
<style>${css}</style>
</head>
<body>
<main>
<header><h1>${title}</h1><span id="live" class="live">Connecting…</span></header>
<div id="status">${renderHtml(status, now)}</div>
<footer><span id="updated">Rendered ${new Date(now).toISOString().replace("T", " ").slice(0, 19)} UTC</span>
· <a href="${jsonLink}">JSON</a></footer>
</main>
<script type="application/json" id="initial">${scriptJson(status)}</script>
<script>${script}</script>
</body>
</html>
`
  return { render, headers }
}
