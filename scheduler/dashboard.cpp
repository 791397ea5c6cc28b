#include "scheduler/dashboard.hpp"

#include <string_view>

namespace troupe {
namespace {

// The page. __TROUPE_STATE__ is replaced by the state's JSON at serve time.
constexpr std::string_view kPage = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>troupe dashboard</title>
<style>
  :root { --bg:#f4f6f9; --card:#fff; --ink:#1d2733; --muted:#6b7785; --line:#e2e7ee;
          --alive:#1f9d55; --pending:#a0aec0; --starting:#3182ce; --restarting:#dd8a1f; --dead:#d64545; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background:var(--bg); color:var(--ink); }
  header { background:#1d2733; color:#fff; padding:10px 20px; display:flex; align-items:center; gap:16px; }
  header h1 { font-size:18px; margin:0; letter-spacing:.5px; }
  header .meta { color:#b8c2cf; font-size:13px; }
  header .conn { margin-left:auto; font-size:13px; }
  .dot { display:inline-block; width:9px; height:9px; border-radius:50%; margin-right:6px; vertical-align:middle; }
  main { padding:16px 20px; display:grid; grid-template-columns: minmax(0,3fr) minmax(0,2fr); gap:16px; }
  .cards { grid-column: 1 / -1; display:grid; grid-template-columns: repeat(auto-fit, minmax(160px,1fr)); gap:12px; }
  .card, section { background:var(--card); border:1px solid var(--line); border-radius:8px; }
  .card { padding:10px 14px; }
  .card .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
  .card .v { font-size:22px; font-weight:600; margin-top:2px; }
  section { padding:12px 14px; min-width:0; overflow-x:auto; }
  section h2 { font-size:14px; margin:0 0 8px; text-transform:uppercase; letter-spacing:.4px; color:var(--muted); }
  table { border-collapse:collapse; width:100%; font-size:13px; }
  th { text-align:left; color:var(--muted); font-weight:600; border-bottom:1px solid var(--line); padding:4px 6px; }
  td { border-bottom:1px solid var(--line); padding:4px 6px; white-space:nowrap; overflow:hidden; text-overflow:ellipsis; max-width:220px; }
  td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
  .badge { display:inline-block; padding:1px 8px; border-radius:10px; color:#fff; font-size:12px; font-weight:600; }
  .ALIVE { background:var(--alive); } .PENDING { background:var(--pending); } .STARTING { background:var(--starting); }
  .RESTARTING { background:var(--restarting); } .DEAD { background:var(--dead); }
  .RUNNING { background:var(--starting); } .DONE, .FINISHED { background:var(--alive); } .FAILED { background:var(--dead); } .STOPPED { background:var(--pending); }
  tr.row-DEAD td { color:var(--muted); }
  .bar { position:relative; height:8px; width:90px; background:#e8edf3; border-radius:4px; display:inline-block; vertical-align:middle; margin-right:6px; }
  .bar > span { position:absolute; left:0; top:0; bottom:0; background:var(--starting); border-radius:4px; }
  .chips span { margin-right:6px; }
  .events { max-height:340px; overflow:auto; font-size:12.5px; }
  .ev { display:grid; grid-template-columns: 88px 96px 1fr; gap:8px; padding:3px 0; border-bottom:1px solid var(--line); }
  .ev .t { color:var(--muted); font-variant-numeric: tabular-nums; }
  .muted { color:var(--muted); }
  .charts { display:grid; grid-template-columns: 1fr; gap:10px; margin-top:6px; }
  .chart svg { width:100%; height:auto; display:block; }
  .chart .title { font-size:12px; color:var(--muted); margin-bottom:2px; }
  .legend span { margin-right:10px; font-size:12px; }
  .empty { color:var(--muted); padding:8px 0; }
</style>
</head>
<body>
<header>
  <h1>troupe</h1>
  <span class="meta" id="meta"></span>
  <span class="conn" id="conn"><span class="dot" style="background:#1f9d55"></span>live</span>
</header>
<main>
  <div class="cards" id="cards"></div>
  <div style="display:flex; flex-direction:column; gap:16px; min-width:0">
    <section><h2>Actors</h2><div id="actors"></div></section>
    <section><h2>Nodes</h2><div id="nodes"></div></section>
  </div>
  <div style="display:flex; flex-direction:column; gap:16px; min-width:0">
    <section><h2>Training</h2><div id="train"></div></section>
    <section><h2>Recent events</h2><div class="events" id="events"></div></section>
  </div>
</main>
<script id="initial-state" type="application/json">__TROUPE_STATE__</script>
<script>
"use strict";
const COLORS = ["#3182ce", "#d64545", "#1f9d55", "#805ad5", "#dd8a1f", "#319795"];
let state = null, stats = {};
try { state = JSON.parse(document.getElementById("initial-state").textContent); } catch (e) { state = null; }

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v; else e.setAttribute(k, v);
  }
  for (const k of kids.flat()) if (k !== null && k !== undefined) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svg(tag, attrs, ...kids) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
function badge(s) { return el("span", {class: "badge " + s}, s); }
function clock(ms) { const d = new Date(ms); return d.toLocaleTimeString([], {hour12: false}) + "." + String(d.getMilliseconds()).padStart(3, "0"); }
function num(v) { return Number.isInteger(v) ? String(v) : Number(v).toFixed(2); }
function bytes(n) { if (n === undefined) return "–"; const u = ["B","kB","MB","GB","TB"]; let i = 0; while (n >= 1000 && i < 4) { n /= 1000; i++; } return (i ? n.toFixed(1) : n) + " " + u[i]; }
function table(head, rows, numeric) {
  return el("table", {}, el("thead", {}, el("tr", {}, head.map((h, i) => el("th", {class: numeric.includes(i) ? "num" : ""}, h)))),
    el("tbody", {}, rows.map(r => el("tr", {class: r.cls || ""}, r.cells.map((c, i) => el("td", {class: numeric.includes(i) ? "num" : ""}, c))))));
}
function setKids(id, ...kids) { const n = document.getElementById(id); n.replaceChildren(...kids.flat()); }

function renderCards(s) {
  const alive = s.nodes.filter(n => n.state === "ALIVE");
  const sum = (k, r) => alive.reduce((a, n) => a + n[k][r], 0);
  const by = {};
  for (const a of s.actors) by[a.state] = (by[a.state] || 0) + 1;
  const restarts = s.actors.reduce((a, x) => a + x.restarts, 0);
  const chips = el("div", {class: "v chips", style: "font-size:14px; margin-top:6px"},
    Object.keys(by).length ? Object.entries(by).map(([k, v]) => el("span", {}, el("span", {class: "badge " + k}, v + " " + k))) : el("span", {class: "muted"}, "none"));
  const card = (k, v) => el("div", {class: "card"}, el("div", {class: "k"}, k), v instanceof Node ? v : el("div", {class: "v"}, v));
  setKids("cards",
    card("Nodes", alive.length + " / " + s.nodes.length),
    card("CPU used", num(sum("used", "cpus")) + " / " + num(sum("total", "cpus"))),
    card("GPU used", num(sum("used", "gpus")) + " / " + num(sum("total", "gpus"))),
    el("div", {class: "card", id: "actor-states"}, el("div", {class: "k"}, "Actors (" + s.actors.length + ")"), chips),
    card("Restarts", restarts),
    card("Jobs", (s.jobs || []).length));
}

function renderActors(s) {
  if (!s.actors.length) return setKids("actors", el("div", {class: "empty"}, "no actors"));
  const order = {ALIVE: 0, STARTING: 1, RESTARTING: 2, PENDING: 3, DEAD: 4};
  const rows = [...s.actors].sort((a, b) => (order[a.state] - order[b.state]) || (a.id - b.id)).map(a => {
    const st = stats[String(a.id)];
    const name = a.name || ("#" + a.id);
    const last = a.deaths.length ? a.deaths[a.deaths.length - 1].reason : "";
    const note = a.state === "PENDING" ? a.pending_reason : last;
    return {cls: "actor row-" + a.state, cells: [
      el("span", {class: "actor-name", "data-state": a.state}, name), a.class, badge(a.state), a.incarnation, a.node || "–",
      a.pid || "–", a.restarts, st ? st.calls_served : "–", st ? st.queue_depth : "–",
      el("span", {title: note}, note)]};
  });
  setKids("actors", table(["Name", "Class", "State", "Inc", "Node", "PID", "Restarts", "Calls", "Queue", "Last death / pending"], rows, [3, 4, 5, 6, 7, 8]));
}

function renderNodes(s) {
  if (!s.nodes.length) return setKids("nodes", el("div", {class: "empty"}, "no nodes"));
  const rows = s.nodes.map(n => {
    const pct = n.total.cpus ? Math.min(100, 100 * n.used.cpus / n.total.cpus) : 0;
    const actors = s.actors.filter(a => a.node === n.id && a.state !== "DEAD").length;
    return {cls: "row-" + n.state, cells: [n.id, n.host, badge(n.state),
      el("span", {}, el("span", {class: "bar"}, el("span", {style: "width:" + pct + "%"})), num(n.used.cpus) + " / " + num(n.total.cpus)),
      num(n.used.gpus) + " / " + num(n.total.gpus), actors, n.state === "DEAD" ? n.death_reason : n.endpoint]};
  });
  setKids("nodes", table(["ID", "Host", "State", "CPU", "GPU", "Actors", "Endpoint"], rows, [0, 5]));
}

function renderEvents(s) {
  const evs = s.events.slice(-60).reverse();
  if (!evs.length) return setKids("events", el("div", {class: "empty"}, "no events"));
  setKids("events", evs.map(e => {
    const who = e.topic === "node" ? "node " + e.node : e.topic === "job" ? "job " + e.name :
      (e.name || "#" + e.actor) + " (inc " + e.incarnation + ")";
    return el("div", {class: "ev"}, el("span", {class: "t"}, clock(e.time_ms)), el("span", {}, badge(e.state)),
      el("span", {}, el("b", {}, who), " ", e.message));
  }));
}

// A line chart of series [{name, color, points: [[x, y], ...]}] as inline SVG.
function chart(title, series, yfmt) {
  const W = 520, H = 170, L = 48, R = 10, T = 10, B = 24;
  const all = series.flatMap(s => s.points);
  const box = el("div", {class: "chart"}, el("div", {class: "title"}, title));
  const g = svg("svg", {viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title});
  g.append(svg("rect", {x: L, y: T, width: W - L - R, height: H - T - B, fill: "#fafbfd", stroke: "#e2e7ee"}));
  if (!all.length) {
    g.append(svg("text", {x: (W + L) / 2, y: H / 2, "text-anchor": "middle", fill: "#6b7785", "font-size": 12}, "no data yet"));
    box.append(g);
    return box;
  }
  let x0 = Math.min(...all.map(p => p[0])), x1 = Math.max(...all.map(p => p[0]));
  let y0 = Math.min(...all.map(p => p[1])), y1 = Math.max(...all.map(p => p[1]));
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const px = x => L + (x - x0) / (x1 - x0) * (W - L - R), py = y => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + (y1 - y0) * i / 4;
    g.append(svg("line", {x1: L, x2: W - R, y1: py(y), y2: py(y), stroke: "#e2e7ee"}));
    g.append(svg("text", {x: L - 4, y: py(y) + 4, "text-anchor": "end", fill: "#6b7785", "font-size": 10}, yfmt(y)));
  }
  g.append(svg("text", {x: L, y: H - 6, fill: "#6b7785", "font-size": 10}, "step " + x0));
  g.append(svg("text", {x: W - R, y: H - 6, "text-anchor": "end", fill: "#6b7785", "font-size": 10}, "step " + x1));
  for (const s of series) {
    if (!s.points.length) continue;
    g.append(svg("polyline", {class: "curve", fill: "none", stroke: s.color, "stroke-width": 2,
      points: s.points.map(p => px(p[0]).toFixed(1) + "," + py(p[1]).toFixed(1)).join(" ")}));
  }
  box.append(g);
  return box;
}

function renderTrain(s) {
  const jobs = s.jobs || [];
  const series = key => jobs.map((j, i) => ({name: j.name, color: COLORS[i % COLORS.length],
    points: (j.history || []).filter(h => typeof h[key] === "number").map(h => [h.step, h[key]])}));
  const kids = [];
  if (!jobs.length) kids.push(el("div", {class: "empty", id: "no-jobs"}, "no training jobs — curves appear when a job reports"));
  else {
    kids.push(table(["Job", "State", "Epoch", "Step", "Loss", "Accuracy", "Samples/s", "Trainers"],
      jobs.map(j => ({cells: [j.name, j.state ? badge(j.state) : "–", j.epoch ?? "–", j.step ?? "–",
        typeof j.loss === "number" ? j.loss.toFixed(4) : "–", typeof j.accuracy === "number" ? (100 * j.accuracy).toFixed(2) + " %" : "–",
        typeof j.samples_per_s === "number" ? Math.round(j.samples_per_s) : "–", (j.trainers || []).length]})), [2, 3, 4, 5, 6, 7]));
    kids.push(el("div", {class: "legend"}, jobs.map((j, i) => el("span", {style: "color:" + COLORS[i % COLORS.length]}, "■ " + j.name))));
  }
  kids.push(el("div", {class: "charts"}, chart("Loss", series("loss"), v => v.toFixed(3)),
    chart("Accuracy", series("accuracy"), v => (100 * v).toFixed(1) + "%")));
  setKids("train", kids);
}

function render() {
  if (!state) return;
  document.getElementById("meta").textContent = state.nodes.length + " node(s), " + state.actors.length + " actor(s) · updated " + clock(state.time_ms || Date.now());
  renderCards(state); renderActors(state); renderNodes(state); renderTrain(state); renderEvents(state);
}
function connected(ok, why) {
  const c = document.getElementById("conn");
  c.title = ok ? "" : String(why);
  c.replaceChildren(el("span", {class: "dot", style: "background:" + (ok ? "#1f9d55" : "#d64545")}), ok ? "live" : "scheduler unreachable");
}
async function poll() {
  try {
    const r = await fetch("/api/state", {cache: "no-store"});
    if (!r.ok) throw new Error(r.status);
    state = await r.json();
    connected(true);
  } catch (e) { connected(false, e); }
  render();
}
async function pollStats() {
  try { const r = await fetch("/api/stats", {cache: "no-store"}); if (r.ok) { stats = await r.json(); render(); } } catch (e) {}
}
render();
poll(); pollStats();
setInterval(poll, 1000);
setInterval(pollStats, 3000);
</script>
</body>
</html>
)HTML";

constexpr std::string_view kPlaceholder = "__TROUPE_STATE__";

}  // namespace

std::string dashboard_html(const nlohmann::json& state) {
  // JSON inside <script>: "</script>" or "<!--" in a string would end or
  // change the element; \u003c is the same character to JSON.parse.
  std::string js = state.dump();
  std::string safe;
  safe.reserve(js.size());
  for (char c : js) {
    if (c == '<')
      safe += "\\u003c";
    else
      safe += c;
  }
  std::string page(kPage);
  page.replace(page.find(kPlaceholder), kPlaceholder.size(), safe);
  return page;
}

}  // namespace troupe
