/* The cairn console: pages drawn from the JSON API (/api/v1/) only. The
 * bearer token lives in sessionStorage and goes out as a header (no
 * cookies, so no CSRF). Text from the store is always set as textContent. */
"use strict";

const TOKEN_KEY = "cairn.token";
const main = () => document.getElementById("main");
let me = null;

function h(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined) continue;
    e.appendChild(typeof k === "string" || typeof k === "number" ? document.createTextNode(String(k)) : k);
  }
  return e;
}

async function api(path, opts) {
  /* an exported file (export html) carries its documents inline */
  if (window.CAIRN_DATA) {
    let d = window.CAIRN_DATA[path];
    if (d === undefined) d = derived(path);
    if (d === undefined || (opts && opts.method === "POST"))
      throw new Error("not in this exported file (" + path + "): open the console for everything");
    return JSON.parse(JSON.stringify(d));
  }
  const token = sessionStorage.getItem(TOKEN_KEY);
  const headers = { "Accept": "application/json" };
  if (token) headers["Authorization"] = "Bearer " + token;
  if (opts && opts.body) headers["Content-Type"] = "application/json";
  const r = await fetch("/api/v1/" + path, Object.assign({ headers }, opts || {}));
  let body = null;
  try { body = await r.json(); } catch (e) { body = { error: "response is not JSON" }; }
  if (r.status === 401) { showLogin(body.error); throw new Error(body.error); }
  if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
  return body;
}

/* An exported file holds the host-level map once; an application's expansion
 * and its page are cut from it here, as the API would answer them. */
function derived(path) {
  const full = window.CAIRN_DATA["deps?level=host"];
  if (!full) return undefined;
  const byId = {};
  for (const n of full.nodes) byId[n.id] = n;
  const appOf = (x) => (byId[x] ? byId[x].app_id : undefined);
  let m = path.match(/^deps\?level=host&app=(.+)$/);
  if (m) {
    const app = decodeURIComponent(m[1]);
    const edges = full.edges.filter((e) => appOf(e.from) === app || appOf(e.to) === app);
    const ends = new Set();
    for (const e of edges) { ends.add(e.from); ends.add(e.to); }
    return Object.assign({}, full, { nodes: full.nodes.filter((n) => n.app_id === app || ends.has(n.id)), edges });
  }
  m = path.match(/^apps\/(.+)$/);
  if (m) {
    const want = decodeURIComponent(m[1]);
    const a = window.CAIRN_DATA.apps.apps.find((x) => x.id === want || x.name === want);
    if (!a) return undefined;
    const inApp = (x) => appOf(x) === a.id;
    return Object.assign({}, a, {
      hostnames: a.hosts.map((h) => (byId[h] ? byId[h].name : h)),
      depends_on: full.edges.filter((e) => inApp(e.from) && !inApp(e.to)),
      used_by: full.edges.filter((e) => !inApp(e.from) && inApp(e.to)) });
  }
  return undefined;
}

const post = (path, obj) => api(path, { method: "POST", body: JSON.stringify(obj) });
const money = (v) => "$" + Number(v || 0).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const pct = (v) => Math.round(Number(v || 0)) + "%";
const when = (ms) => ms ? new Date(ms).toISOString().replace("T", " ").slice(0, 16) : "-";
const enc = encodeURIComponent;
const canOperate = () => me && (me.role === "operator" || me.role === "admin");

/* ---------------------------------------------------------------- login */

function showLogin(msg) {
  document.getElementById("login").hidden = false;
  main().hidden = true;
  document.getElementById("login-error").textContent = msg || "";
}

async function login(ev) {
  ev.preventDefault();
  const t = document.getElementById("login-token").value.trim();
  sessionStorage.setItem(TOKEN_KEY, t);
  try {
    me = await api("whoami");
  } catch (e) {
    document.getElementById("login-error").textContent = e.message;
    return;
  }
  document.getElementById("login").hidden = true;
  main().hidden = false;
  document.getElementById("who").textContent = me.name + " (" + me.role + ")";
  route();
}

/* ---------------------------------------------------------------- tables */

/* A sortable, filterable table: cols = [{ key, title, num, fmt, link }]. */
function table(rows, cols, opts) {
  const first = opts && opts.sort ? cols.find((c) => c.title === opts.sort) : null;
  let sortKey = first ? (first.key || first.title) : null, asc = true, filter = "";
  const wrap = h("div", {});
  const input = h("input", { type: "search", placeholder: "filter…", class: "filter" });
  input.addEventListener("input", () => { filter = input.value.toLowerCase(); draw(); });
  const count = h("span", { class: "sub" });
  wrap.appendChild(h("div", { class: "toolbar" }, input, count));
  const t = h("table", {});
  wrap.appendChild(t);
  function cell(r, c) {
    const v = c.get ? c.get(r) : r[c.key];
    const text = c.fmt ? c.fmt(v, r) : (v === undefined || v === null || v === "" ? "-" : String(v));
    const td = h("td", { class: c.num ? "num" : "" });
    if (c.link && c.link(r)) td.appendChild(h("a", { href: c.link(r) }, text));
    else td.textContent = text;
    return td;
  }
  function draw() {
    t.textContent = "";
    const head = h("tr", {}, cols.map((c) => {
      const th = h("th", { class: c.num ? "num" : "" }, c.title + (sortKey === (c.key || c.title) ? (asc ? " ▲" : " ▼") : ""));
      th.addEventListener("click", () => { const k = c.key || c.title; asc = sortKey === k ? !asc : true; sortKey = k; draw(); });
      return th;
    }));
    t.appendChild(h("thead", {}, head));
    let rs = rows.filter((r) => !filter || cols.some((c) => String(c.get ? c.get(r) : r[c.key]).toLowerCase().includes(filter)));
    if (sortKey) {
      const c = cols.find((x) => (x.key || x.title) === sortKey);
      const get = (r) => (c.get ? c.get(r) : r[c.key]);
      rs = rs.slice().sort((a, b) => {
        const x = get(a), y = get(b);
        const d = (typeof x === "number" && typeof y === "number") ? x - y : String(x).localeCompare(String(y));
        return asc ? d : -d;
      });
    }
    const body = h("tbody", {});
    for (const r of rs) body.appendChild(h("tr", {}, cols.map((c) => cell(r, c))));
    t.appendChild(body);
    count.textContent = rs.length + " of " + rows.length + " rows";
  }
  draw();
  return wrap;
}

function page(title, ...kids) {
  const m = main();
  m.textContent = "";
  m.appendChild(h("h1", {}, title));
  for (const k of kids) m.appendChild(k);
}

/* ---------------------------------------------------------------- overview */

const READY_COLORS = { "Ready": "#2f9e44", "Conditionally ready": "#f08c00", "Not ready": "#e03131", "Unknown": "#868e96" };

async function overview() {
  const [agents, hosts, apps, ready, cost, prog] = await Promise.all([
    api("agents"), api("hosts"), api("apps"), api("readiness"), api("cost"), api("progress")]);
  const now = Date.now(), silentMs = 2 * 300 * 1000;
  const accepted = agents.filter((a) => a.state === "accepted");
  const connected = accepted.filter((a) => now - a.last_seen_ms <= silentMs).length;
  const pending = agents.filter((a) => a.state === "pending").length;
  const realApps = apps.apps.filter((a) => !a.infrastructure).length;
  const counts = {};
  for (const r of ready.readiness) if (r.kind === "host") counts[r.category] = (counts[r.category] || 0) + 1;
  const total = Object.values(counts).reduce((a, b) => a + b, 0) || 1;
  const bar = h("div", { class: "bar", id: "readiness-bar" }, Object.keys(READY_COLORS).map((k) => {
    const s = h("span", { title: k + ": " + (counts[k] || 0) });
    s.style.width = (100 * (counts[k] || 0) / total) + "%";
    s.style.background = READY_COLORS[k];
    return s;
  }));
  const card = (id, href, title, big, sub) => h("div", { class: "card", id }, h("a", { href },
    h("div", { class: "sub" }, title), h("div", { class: "big" }, big), sub ? h("div", { class: "sub" }, sub) : null));
  page("Overview",
    h("div", { class: "cards" },
      card("card-agents", "#/agents", "Agents", accepted.length,
        connected + " connected, " + (accepted.length - connected) + " silent, " + pending + " pending enrollment"),
      card("card-hosts", "#/readiness", "Hosts discovered", hosts.length),
      card("card-apps", "#/apps", "Applications", realApps, (apps.apps.length - realApps) + " shared infrastructure groups"),
      card("card-cost", "#/cost", "Monthly cost", money(cost.total.rightsized_monthly_usd),
        "right-sized, against " + money(cost.total.asis_monthly_usd) + " as-is (saving " + money(cost.total.saving_usd) + ")"),
      card("card-waves", "#/waves", "Migration progress", pct(prog.total.percent),
        prog.waves.length + " waves, " + prog.total.hosts + " hosts; " + prog.total.host_states.COMPLETED + " completed")),
    h("h2", {}, "Readiness of " + total + " hosts"),
    h("a", { href: "#/readiness" }, bar),
    h("div", { class: "legend" }, Object.keys(READY_COLORS).map((k) => {
      const i = h("i", {}); i.style.background = READY_COLORS[k];
      return h("span", {}, i, k + " " + (counts[k] || 0));
    })));
}

/* ---------------------------------------------------------------- map */

const map = { hideInfra: false, hideExt: false, colour: "app", expanded: new Set(), search: "" };

/* a map control changed: draw again (the page marker says when it is done) */
async function redraw() {
  document.body.dataset.page = "loading";
  try { await mapPage(); document.body.dataset.page = "mapPage"; }
  catch (e) { page("Error", h("p", { class: "error", id: "page-error" }, e.message)); document.body.dataset.page = "error"; }
}

async function mapPage() {
  const [deps, waves, ready] = await Promise.all([api("deps?level=app"), api("waves"), api("readiness")]);
  const waveOf = {}, readyOf = {};
  for (const w of waves.waves) for (const a of w.apps) waveOf[a.id] = w.number;
  for (const r of ready.readiness) readyOf[r.target] = r.category;
  const hostDocs = {};
  for (const id of map.expanded) hostDocs[id] = await api("deps?level=host&app=" + enc(id));

  const toolbar = h("div", { class: "toolbar" },
    h("label", {}, h("input", { type: "checkbox", id: "hide-infra", checked: map.hideInfra ? "" : null,
      onchange: (e) => { map.hideInfra = e.target.checked; redraw(); } }), " hide shared infrastructure"),
    h("label", {}, h("input", { type: "checkbox", id: "hide-ext", checked: map.hideExt ? "" : null,
      onchange: (e) => { map.hideExt = e.target.checked; redraw(); } }), " hide external endpoints"),
    h("label", {}, "colour by ", (() => {
      const s = h("select", { id: "colour", onchange: (e) => { map.colour = e.target.value; redraw(); } },
        ["app", "wave", "readiness"].map((v) => h("option", { value: v, selected: map.colour === v ? "" : null }, v)));
      return s;
    })()),
    h("input", { type: "search", id: "map-search", placeholder: "search host, IP, application…", value: map.search,
      onchange: (e) => { map.search = e.target.value.toLowerCase(); redraw(); } }),
    map.expanded.size ? h("button", { id: "collapse", onclick: () => { map.expanded.clear(); redraw(); } }, "collapse all") : null);
  const svgEl = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svgEl.setAttribute("id", "map");
  const panel = h("div", { class: "panel", id: "map-panel" }, "Click an application to expand it to its hosts; click a host to open its page.");
  page("Map", toolbar, svgEl, panel);

  /* the graph: applications, with expanded ones replaced by their hosts */
  let nodes = [], links = [];
  const keep = (n) => !(map.hideInfra && n.infrastructure) && !(map.hideExt && n.kind === "external");
  const groupOfHost = {};
  for (const [app, doc] of Object.entries(hostDocs))
    for (const n of doc.nodes) if (n.app_id === app) groupOfHost[n.id] = app;
  for (const n of deps.nodes) {
    if (map.expanded.has(n.id)) continue;
    if (keep(n)) nodes.push({ id: n.id, name: n.name, kind: n.kind, infrastructure: n.infrastructure, hosts: n.hosts, app: n.id });
  }
  for (const [app, doc] of Object.entries(hostDocs))
    for (const n of doc.nodes) if (n.app_id === app) nodes.push({ id: n.id, name: n.name, kind: "host", infrastructure: n.infrastructure, hosts: 1, app, addresses: n.addresses || [] });
  const ids = new Set(nodes.map((n) => n.id));
  const endOf = (id, appId) => ids.has(id) ? id : (ids.has(appId) ? appId : null);
  const seen = new Map();
  const addLink = (s, t, w) => {
    if (!s || !t || s === t) return;
    const k = s + ">" + t;
    if (seen.has(k)) seen.get(k).w += w; else { const l = { source: s, target: t, w }; seen.set(k, l); links.push(l); }
  };
  for (const e of deps.edges) if (!map.expanded.has(e.from) && !map.expanded.has(e.to)) addLink(endOf(e.from), endOf(e.to), e.samples_seen || 1);
  const appOfNode = {};
  for (const doc of Object.values(hostDocs)) for (const n of doc.nodes) appOfNode[n.id] = n.app_id || n.id;
  for (const doc of Object.values(hostDocs))
    for (const e of doc.edges) {
      const a = groupOfHost[e.from] ? e.from : (appOfNode[e.from] || e.from);
      const b = groupOfHost[e.to] ? e.to : (appOfNode[e.to] || e.to);
      addLink(endOf(a, appOfNode[e.from]), endOf(b, appOfNode[e.to]), e.samples_seen || 1);
    }

  const W = svgEl.clientWidth || 1000, H = svgEl.clientHeight || 640;
  const sim = d3.forceSimulation(nodes)
    .force("link", d3.forceLink(links).id((d) => d.id).distance(nodes.length > 500 ? 40 : 110).strength(0.05))
    .force("charge", d3.forceManyBody().strength(nodes.length > 500 ? -25 : nodes.length > 150 ? -90 : -500).theta(0.9))
    .force("collide", d3.forceCollide((d) => (d.kind === "app" ? 6 + 2.5 * Math.sqrt(d.hosts) : 6)))
    .force("center", d3.forceCenter(W / 2, H / 2))
    .force("x", d3.forceX(W / 2).strength(0.03)).force("y", d3.forceY(H / 2).strength(0.03))
    .stop();
  /* laid out before the first paint: a big estate paints once, then pans and zooms */
  const ticks = nodes.length > 800 ? 60 : 200;
  for (let i = 0; i < ticks; i++) sim.tick();

  const palette = d3.schemeTableau10;
  const colourOf = (n) => {
    if (n.kind === "external") return "#adb5bd";
    if (map.colour === "wave") { const w = waveOf[n.app]; return w ? palette[(w - 1) % 10] : "#ced4da"; }
    if (map.colour === "readiness") return READY_COLORS[readyOf[n.kind === "host" ? n.id : n.app]] || "#ced4da";
    if (n.infrastructure) return "#495057";
    let x = 0; for (const c of n.app) x = (x * 31 + c.charCodeAt(0)) >>> 0;
    return palette[x % 10];
  };
  const svg = d3.select(svgEl);
  const g = svg.append("g");
  /* Debian's node-d3 is d3 v5: handlers get the datum, the event is d3.event */
  const zoom = d3.zoom().scaleExtent([0.05, 8]).on("zoom", () => g.attr("transform", d3.event.transform));
  svg.call(zoom);
  /* the whole graph in view at first */
  if (nodes.length) {
    const [x0, x1] = d3.extent(nodes, (n) => n.x), [y0, y1] = d3.extent(nodes, (n) => n.y);
    const k = Math.min(2, 0.9 * Math.min(W / (x1 - x0 + 80), H / (y1 - y0 + 40)));
    svg.call(zoom.transform, d3.zoomIdentity.translate(W / 2, H / 2).scale(k).translate(-(x0 + x1) / 2, -(y0 + y1) / 2));
  }
  const wmax = d3.max(links, (l) => l.w) || 1;
  g.append("g").selectAll("line").data(links).join("line")
    .attr("x1", (l) => l.source.x).attr("y1", (l) => l.source.y)
    .attr("x2", (l) => l.target.x).attr("y2", (l) => l.target.y)
    .attr("stroke-width", (l) => 0.5 + 3 * Math.sqrt(l.w / wmax));
  const matches = (n) => map.search && (n.name.toLowerCase().includes(map.search) || n.id.toLowerCase().startsWith(map.search) ||
    (n.addresses || []).some((a) => a.includes(map.search)));
  const node = g.append("g").selectAll("circle").data(nodes).join("circle")
    .attr("class", (n) => "node node-" + n.kind + (matches(n) ? " match" : ""))
    .attr("data-id", (n) => n.id).attr("data-name", (n) => n.name)
    .attr("cx", (n) => n.x).attr("cy", (n) => n.y)
    .attr("r", (n) => n.kind === "app" ? 4 + 2.5 * Math.sqrt(n.hosts) : 4)
    .attr("fill", colourOf)
    .on("click", (n) => {
      if (n.kind === "app") { map.expanded.add(n.id); redraw(); }
      else if (n.kind === "host") location.hash = "#/host/" + enc(n.id);
    });
  node.append("title").text((n) => n.name + (n.kind === "app" ? " (" + n.hosts + " hosts)" : ""));
  if (nodes.length <= 400)
    g.append("g").selectAll("text").data(nodes).join("text")
      .attr("x", (n) => n.x + 7).attr("y", (n) => n.y + 3).text((n) => n.name);
  panel.textContent = nodes.length + " nodes, " + links.length + " edges. Click an application to expand it to its hosts; click a host to open its page.";
  for (const id of map.expanded) {
    const n = deps.nodes.find((x) => x.id === id);
    if (n) panel.appendChild(h("div", {}, "expanded: ", h("a", { href: "#/app/" + enc(id) }, n.name + " (page)")));
  }
}

/* ---------------------------------------------------------------- pages */

function edgeTable(edges, names) {
  return table(edges, [
    { title: "From", get: (e) => names(e.from) }, { title: "Process", key: "from_process" },
    { title: "To", get: (e) => names(e.to) }, { title: "Process ", key: "to_process" },
    { title: "Port", key: "port", num: true }, { title: "Samples", key: "samples_seen", num: true },
    { title: "Last seen", key: "last_seen_ms", fmt: when }]);
}

function statusForm(target) {
  if (!canOperate()) return null;
  const sel = h("select", { name: "state" }, ["NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED"].map((s) => h("option", { value: s }, s)));
  const prog = h("input", { type: "number", min: 0, max: 100, placeholder: "%", size: 4 });
  const note = h("input", { type: "text", placeholder: "note", size: 30 });
  const msg = h("span", {});
  return h("form", { class: "decide", id: "status-form", onsubmit: async (ev) => {
    ev.preventDefault();
    const body = { state: sel.value };
    if (prog.value !== "") body.progress = Number(prog.value);
    if (note.value) body.note = note.value;
    try { const r = await post("migration/" + enc(target), body); msg.className = "ok"; msg.textContent = "recorded: " + r.state + " " + r.progress_pct + "% by " + r.updated_by; }
    catch (e) { msg.className = "error"; msg.textContent = e.message; }
  } }, "Migration status ", sel, prog, note, h("button", { type: "submit" }, "Record"), msg);
}

async function hostPage(id) {
  const [host, ready, sizing] = await Promise.all([api("hosts/" + enc(id)), api("readiness/" + enc(id)).catch(() => null), api("sizing")]);
  const z = sizing.sizing.find((s) => s.host === host.id);
  const f = host.facts || {};
  const u = host.utilization || {};
  const ls = (host.listeners && host.listeners.listeners) || [];
  const nameOf = (x) => x === host.id ? host.hostname : x.slice(0, 24);
  page("Host " + (host.hostname || host.id),
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("div", { class: "sub" }, "Application"),
        host.app_id ? h("a", { href: "#/app/" + enc(host.app_id) }, host.app) : "-"),
      h("div", { class: "card" }, h("div", { class: "sub" }, "System"), (f.os && f.os.pretty_name) || "-", h("div", { class: "sub" }, (f.kernel_release || "") + " " + (f.architecture || ""))),
      h("div", { class: "card" }, h("div", { class: "sub" }, "CPU busy avg / p95 / max"),
        pct(u.cpu_busy_avg_pct) + " / " + pct(u.cpu_busy_p95_pct) + " / " + pct(u.cpu_busy_max_pct), h("div", { class: "sub" }, u.windows + " perf windows")),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Readiness"), ready ? ready.category + " (" + ready.score + ")" : "-",
        h("div", { class: "sub" }, ready ? ready.strategy : "")),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Right-sized"), z ? (z.instance_type || "(none fits)") : "-",
        h("div", { class: "sub" }, z ? money(z.monthly_usd) + "/month, as-is " + (z.asis_instance_type || "-") : ""))),
    ready ? h("div", {}, h("h2", {}, "Readiness reasons"), h("ul", {}, (ready.reasons || []).map((r) => h("li", {}, r.text)))) : h("span"),
    host.migration ? h("p", { id: "host-migration" }, "Migration: " + host.migration.text) : h("span"),
    statusForm(host.id) || h("span"),
    h("h2", {}, "Listeners"),
    table(ls, [{ title: "Address", key: "address" }, { title: "Port", key: "port", num: true }, { title: "Process", key: "process_name" }]),
    h("h2", {}, "Packages"), h("p", {}, Object.entries(host.packages || {}).map(([k, v]) => k + ": " + v).join(", ") || "-"),
    h("h2", {}, "Depends on (" + host.depends_on.length + ")"), edgeTable(host.depends_on, nameOf),
    h("h2", {}, "Used by (" + host.used_by.length + ")"), edgeTable(host.used_by, nameOf));
}

async function appPage(id) {
  const [app, ready, cost, waves] = await Promise.all([api("apps/" + enc(id)), api("readiness/" + enc(id)).catch(() => null), api("cost"), api("waves")]);
  const c = cost.apps.find((a) => a.id === app.id);
  const w = waves.waves.find((x) => x.apps.some((a) => a.id === app.id));
  const members = app.hosts.map((hid, i) => ({ id: hid, name: app.hostnames[i] || hid }));
  const forms = [];
  if (canOperate()) {
    const nm = h("input", { type: "text", id: "rename-name", value: app.name, size: 30 });
    const msg = h("span", { id: "rename-msg" });
    forms.push(h("form", { class: "decide", id: "rename-form", onsubmit: async (ev) => {
      ev.preventDefault();
      try { await post("apps/" + enc(app.id) + "/rename", { name: nm.value }); msg.className = "ok"; msg.textContent = "renamed"; appPage(app.id); }
      catch (e) { msg.className = "error"; msg.textContent = e.message; }
    } }, "Name ", nm, h("button", { type: "submit", id: "rename-submit" }, "Rename"), msg));
    const from = h("input", { type: "text", placeholder: "application to merge in", size: 30 });
    const mmsg = h("span", {});
    forms.push(h("form", { class: "decide", onsubmit: async (ev) => {
      ev.preventDefault();
      try { await post("apps/" + enc(app.id) + "/merge", { from: from.value }); mmsg.className = "ok"; mmsg.textContent = "merged"; appPage(app.id); }
      catch (e) { mmsg.className = "error"; mmsg.textContent = e.message; }
    } }, "Merge ", from, h("button", { type: "submit" }, "into this one"), mmsg));
    forms.push(statusForm(app.id));
  }
  page("Application " + app.name,
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("div", { class: "sub" }, "Hosts"), h("div", { class: "big" }, app.hosts.length),
        h("div", { class: "sub" }, (app.services || []).join(", "))),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Readiness"), ready ? ready.category + " (" + ready.score + ")" : "-",
        h("div", { class: "sub" }, ready ? ready.strategy : "")),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Monthly cost"), c ? money(c.rightsized_monthly_usd) : "-",
        h("div", { class: "sub" }, c ? "as-is " + money(c.asis_monthly_usd) : "")),
      h("div", { class: "card" }, h("div", { class: "sub" }, "Wave"), w ? h("a", { href: "#/waves" }, "Wave " + w.number) : "not migrated",
        h("div", { class: "sub" }, w && w.score !== undefined ? "score " + w.score + "/100, confidence " + w.confidence + "/5" : ""))),
    ...forms,
    ...waveRules(w && w.apps.find((a) => a.id === app.id)),
    h("p", {}, h("a", { href: "#/map", onclick: () => { map.expanded = new Set([app.id]); } }, "show on the map")),
    h("h2", {}, "Members"),
    table(members, [{ title: "Host", key: "name", link: (r) => "#/host/" + enc(r.id) }, { title: "Id", key: "id" }]),
    h("h2", {}, "Depends on (" + app.depends_on.length + ")"), edgeTable(app.depends_on, (x) => x.slice(0, 24)),
    h("h2", {}, "Used by (" + app.used_by.length + ")"), edgeTable(app.used_by, (x) => x.slice(0, 24)));
}

async function appsPage() {
  const apps = await api("apps");
  page("Applications", table(apps.apps, [
    { title: "Name", key: "name", link: (a) => "#/app/" + enc(a.id) },
    { title: "Hosts", get: (a) => a.hosts.length, num: true },
    { title: "Services", get: (a) => (a.services || []).join(", ") },
    { title: "Shared infrastructure", get: (a) => a.infrastructure ? "yes" : "" },
    { title: "Named from", key: "named_from" }], { sort: "Name" }));
}

async function readinessPage() {
  const d = await api("readiness");
  page("Readiness", table(d.readiness, [
    { title: "Kind", key: "kind" },
    { title: "Name", key: "name", link: (r) => (r.kind === "host" ? "#/host/" : "#/app/") + enc(r.target) },
    { title: "Category", key: "category" }, { title: "Score", key: "score", num: true },
    { title: "Confidence", key: "confidence", num: true }, { title: "Strategy", key: "strategy" },
    { title: "Reasons", get: (r) => (r.reasons || []).map((x) => x.code).join(" ") }], { sort: "Score" }));
}

async function sizingPage() {
  const d = await api("sizing");
  page("Sizing", h("p", {}, "Mode " + d.mode + ", EC2 prices as of " + d.catalog_as_of + ", EBS as of " + d.ebs_as_of),
    table(d.sizing, [
      { title: "Host", key: "name", link: (r) => "#/host/" + enc(r.host) },
      { title: "vCPU used", key: "cpu_observed", num: true, fmt: (v) => Number(v).toFixed(2) },
      { title: "vCPU need", key: "cpu_needed", num: true, fmt: (v) => Number(v).toFixed(2) },
      { title: "Mem GiB need", key: "mem_needed_gib", num: true, fmt: (v) => Number(v).toFixed(2) },
      { title: "Instance", key: "instance_type" }, { title: "$/month", key: "monthly_usd", num: true, fmt: money },
      { title: "Storage GiB", key: "storage_gib", num: true }, { title: "Note", key: "note" }], { sort: "Host" }));
}

async function costPage() {
  const d = await api("cost");
  page("Cost",
    h("p", { id: "cost-total" }, d.total.hosts + " hosts: as-is " + money(d.total.asis_monthly_usd) + "/month, right-sized " +
      money(d.total.rightsized_monthly_usd) + "/month, saving " + money(d.total.saving_usd) + " (prices as of " + d.catalog_as_of + ")"),
    h("h2", {}, "Applications"),
    table(d.apps, [{ title: "Application", key: "name", link: (a) => "#/app/" + enc(a.id) }, { title: "Hosts", key: "hosts", num: true },
      { title: "As-is $/mo", key: "asis_monthly_usd", num: true, fmt: money }, { title: "Right-sized $/mo", key: "rightsized_monthly_usd", num: true, fmt: money },
      { title: "Saving", key: "saving_usd", num: true, fmt: money }]),
    h("h2", {}, "Hosts"),
    table(d.hosts, [{ title: "Host", key: "name", link: (r) => "#/host/" + enc(r.host) }, { title: "Application", key: "app" },
      { title: "As-is", key: "asis_instance" }, { title: "$/mo", key: "asis_monthly_usd", num: true, fmt: money },
      { title: "Right-sized", key: "rightsized_instance" }, { title: "$/mo ", key: "rightsized_monthly_usd", num: true, fmt: money },
      { title: "Saving", key: "saving_usd", num: true, fmt: money }]));
}

/* The wave rules that placed an application (plan waves --explain). */
function waveRules(pl) {
  if (!pl || !(pl.rules || []).length) return [];
  const rows = pl.rules.map((r) => ({ code: r.code, text: r.text, held: "yes" }))
    .concat((pl.relaxed || []).map((r) => ({ code: r.code, text: r.text, held: "not honored" })));
  return [h("h2", {}, "Why this wave"), table(rows, [{ title: "Rule", key: "code" }, { title: "Honored", key: "held" }, { title: "Because", key: "text" }])];
}

async function wavesPage() {
  const [waves, prog] = await Promise.all([api("waves"), api("progress")]);
  const pw = {};
  for (const w of prog.waves) pw[w.number] = w;
  page("Waves and progress",
    h("p", {}, "Overall " + pct(prog.total.percent) + " of " + prog.total.hosts + " hosts; " + (waves.min_hosts ? waves.min_hosts + "-" : "at most ") + waves.max_hosts + " hosts per wave; " +
      prog.not_migrated.apps + " applications (" + prog.not_migrated.hosts + " hosts) not migrated (Retire / Retain)."),
    ...waves.waves.map((w) => {
      const p = pw[w.number] || { percent: 0, apps: [] };
      const st = {};
      for (const a of p.apps) st[a.id] = a;
      /* the wave rules: score, confidence, reasons; per app its tags and the rules that placed it;
       * the migration tools' tasks on its hosts */
      const rules = (a) => (a.rules || []).map((r) => r.code).concat((a.relaxed || []).map((r) => "not honored: " + r.code)).join(", ");
      return h("div", { class: "panel wave" }, h("h2", {}, "Wave " + w.number + " — " + w.hosts + " hosts, " + pct(p.percent) + " done" +
          (w.score !== undefined ? ", score " + w.score + "/100, confidence " + w.confidence + "/5" : "")),
        (w.reasons || []).length ? h("ul", { class: "reasons" }, w.reasons.map((x) => h("li", {}, x))) : h("span"),
        table(w.apps.map((a) => Object.assign({}, a, { tags: [a.environment, a.criticality].filter((x) => x).join("/"), rulecodes: rules(a) },
          st[a.id] ? { state: st[a.id].state, percent: st[a.id].percent, tasks: st[a.id].tasks, stale_tasks: st[a.id].stale_tasks } : {})), [
          { title: "Application", key: "name", link: (a) => "#/app/" + enc(a.id) }, { title: "Hosts", key: "hosts", num: true },
          { title: "Env/crit", key: "tags" }, { title: "State", key: "state" }, { title: "Done", key: "percent", num: true, fmt: pct },
          { title: "Tasks", key: "tasks", num: true, fmt: (v, a) => v ? v + (a.stale_tasks ? " (" + a.stale_tasks + " stale)" : "") : "-" },
          { title: "Rules", key: "rulecodes" }, { title: "Why here", key: "why" }]),
        w.warnings.length ? h("ul", {}, w.warnings.map((x) => h("li", { class: "error" }, x))) : h("span"));
    }),
    progressToolsPanel(prog));
}

/* What the migration tools report (PUT /api/v1/progress-streams/...). */
function progressToolsPanel(prog) {
  const streams = prog.streams || [], hosts = prog.task_hosts || [];
  if (!streams.length)
    return h("div", { class: "panel", id: "progress-tools" }, h("h2", {}, "Migration tools"),
      h("p", { class: "sub" }, "No task reported yet: tools report with PUT /api/v1/progress-streams/STREAM/tasks/TASK or cairn-collector notify."));
  const states = (s) => ["NOT_STARTED", "IN_PROGRESS", "FAILED", "COMPLETED"].map((k) => s.task_states[k]).join(" / ");
  return h("div", { class: "panel", id: "progress-tools" }, h("h2", {}, "Migration tools"),
    table(streams, [{ title: "Stream", key: "stream" }, { title: "Tasks", key: "tasks", num: true },
      { title: "Not started / in progress / failed / completed", key: "task_states", fmt: (v, s) => states(s) },
      { title: "Stale", key: "stale", num: true }, { title: "Last update", key: "updateDateTime" }]),
    h("h2", {}, "Hosts with tasks"),
    table(hosts, [{ title: "Host", key: "name", link: (r) => "#/host/" + enc(r.id) },
      { title: "Status", key: "state", get: (r) => r.migration.state },
      { title: "Set by", key: "set", get: (r) => r.migration.set ? r.migration.set.by : "" },
      { title: "Tasks say", key: "tasks", get: (r) => r.migration.tasks ? r.migration.tasks.state : "" },
      { title: "Tasks", key: "n", num: true, get: (r) => r.migration.tasks ? r.migration.tasks.tasks : 0 },
      { title: "Streams", key: "streams", get: (r) => r.migration.tasks ? r.migration.tasks.streams : "" }]));
}

async function agentsPage() {
  const agents = await api("agents");
  const admin = me && me.role === "admin";
  const act = (a, verb) => h("button", { onclick: async () => {
    try { await post("agents/" + enc(a.id) + "/" + verb, {}); agentsPage(); } catch (e) { alert(e.message); }
  } }, verb);
  page("Agents", table(agents, [
    { title: "Hostname", key: "hostname" }, { title: "Fingerprint", key: "fingerprint" }, { title: "State", key: "state" },
    { title: "Last seen", key: "last_seen_ms", fmt: when }, { title: "Batches", key: "batches_stored", num: true },
    { title: "Gaps", key: "gaps_reported", num: true }, { title: "Version", key: "agent_version" }]),
    admin ? h("div", { class: "panel" }, h("h2", {}, "Enrollment"),
      ...agents.filter((a) => a.state === "pending" || a.state === "accepted").map((a) =>
        h("div", {}, a.hostname + " " + a.fingerprint + " (" + a.state + ") ",
          a.state === "pending" ? [act(a, "accept"), act(a, "reject")] : act(a, "revoke")))) : h("span"));
}

/* ---------------------------------------------------------------- routing */

const routes = [
  [/^#\/overview$/, overview], [/^#\/map$/, mapPage], [/^#\/apps$/, appsPage],
  [/^#\/app\/(.+)$/, appPage], [/^#\/host\/(.+)$/, hostPage], [/^#\/readiness$/, readinessPage],
  [/^#\/sizing$/, sizingPage], [/^#\/cost$/, costPage], [/^#\/waves$/, wavesPage], [/^#\/agents$/, agentsPage]];

async function route() {
  if (!me) return;
  const hash = location.hash || "#/overview";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", hash.startsWith(a.getAttribute("href")));
  for (const [re, fn] of routes) {
    const m = hash.match(re);
    if (m) {
      document.body.dataset.page = "loading";
      try { await fn(...m.slice(1).map(decodeURIComponent)); document.body.dataset.page = fn.name; }
      catch (e) { if (!document.getElementById("login").hidden) return; page("Error", h("p", { class: "error", id: "page-error" }, e.message)); document.body.dataset.page = "error"; }
      return;
    }
  }
  page("Not found", h("p", {}, "No page " + hash));
}

window.addEventListener("hashchange", route);
window.addEventListener("DOMContentLoaded", async () => {
  document.getElementById("login-form").addEventListener("submit", login);
  try {
    me = await api("whoami");
    document.getElementById("who").textContent = me.name + " (" + me.role + ")";
    route();
  } catch (e) { showLogin(sessionStorage.getItem(TOKEN_KEY) ? e.message : ""); }
});
