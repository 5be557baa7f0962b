// Luciole console: draws the daemon's state (GET /api/state, then the /api/events stream)
// and sends the operator's actions with the console token. Plain DOM, no framework, nothing
// fetched from outside: a gateway is often offline. Wire values are set as text, never HTML.
"use strict";

const TOKEN_KEY = "luciole.console.token";
const OTHER = "__other__";
const STALE_S = 15 * 60; // a device silent this long is shown as stale
const svg = document.getElementById("map-svg");
const SVG_NS = svg.namespaceURI; // read from the page, so no URL is written here
let current = null;
let selected = null;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  return node;
}

// Level 0 → the dark of an unlit street, 1 → warm sodium yellow, through amber.
const STOPS = [
  [0.0, [42, 45, 62]],
  [0.35, [122, 78, 34]],
  [0.7, [232, 150, 40]],
  [1.0, [255, 214, 80]],
];

function levelColour(level) {
  if (level === null || level === undefined) return "var(--unknown)";
  const x = Math.min(1, Math.max(0, level));
  for (let i = 1; i < STOPS.length; i++) {
    const [x1, c1] = STOPS[i];
    const [x0, c0] = STOPS[i - 1];
    if (x <= x1) {
      const t = (x - x0) / (x1 - x0);
      const c = c0.map((v, k) => Math.round(v + (c1[k] - v) * t));
      return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
    }
  }
  return "rgb(255, 214, 80)";
}

const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
const num = (x, digits = 1) => (x === null || x === undefined ? "–" : Number(x).toFixed(digits));
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

function energyText(kwh) {
  if (kwh === null || kwh === undefined) return "–";
  return kwh < 1 ? `${Math.round(kwh * 1000)} Wh` : `${kwh.toFixed(kwh < 100 ? 2 : 0)} kWh`;
}

function siteTime(ts, withDate) {
  if (ts === null || ts === undefined) return "–";
  const zone = current && current.site && current.site.timezone;
  const options = withDate
    ? { dateStyle: "short", timeStyle: "short" }
    : { hour: "2-digit", minute: "2-digit" };
  try {
    return new Date(ts * 1000).toLocaleString([], { ...options, timeZone: zone || undefined });
  } catch (error) {
    return new Date(ts * 1000).toLocaleString([], options);
  }
}

function age(seconds) {
  if (seconds === null || seconds === undefined) return "never";
  if (seconds < 90) return `${Math.round(seconds)} s ago`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}

function overriddenSet(state) {
  return new Set((state.overrides || []).map((o) => o.segment));
}

// ---- The street -------------------------------------------------------------------------

function segmentTitle(seg) {
  return `${seg.id} (${seg.street}): ${pct(seg.level)}, ${seg.reason || "no reason"}`;
}

function selectSegment(id) {
  selected = id;
  const option = [...$("target").options].find((o) => o.value === id);
  if (option) $("target").value = id;
  syncOther();
  render(current);
}

function drawMap(state) {
  const placed = state.segments.filter((s) => s.start && s.end);
  const loose = state.segments.filter((s) => !(s.start && s.end));
  svg.replaceChildren();
  svg.style.display = placed.length ? "" : "none"; // an SVG element has no `hidden`
  if (placed.length) drawLines(placed, overriddenSet(state));
  drawRows(loose, overriddenSet(state));
}

function project(placed) {
  const lats = placed.flatMap((s) => [s.start[0], s.end[0]]);
  const lons = placed.flatMap((s) => [s.start[1], s.end[1]]);
  const k = Math.cos(((Math.min(...lats) + Math.max(...lats)) / 2) * (Math.PI / 180));
  const x0 = Math.min(...lons) * k;
  const y0 = -Math.max(...lats);
  const w = Math.max(Math.max(...lons) * k - x0, 1e-6);
  const h = Math.max(-Math.min(...lats) - y0, 1e-6);
  const box = { w: 1000, h: Math.round(Math.min(700, Math.max(260, (1000 * h) / w))) };
  const pad = 40;
  const scale = Math.min((box.w - 2 * pad) / w, (box.h - 2 * pad) / h);
  const dx = (box.w - w * scale) / 2;
  const dy = (box.h - h * scale) / 2;
  const at = ([lat, lon]) => [dx + (lon * k - x0) * scale, dy + (-lat - y0) * scale];
  return { box, at };
}

function drawLines(placed, overridden) {
  const { box, at } = project(placed);
  svg.setAttribute("viewBox", `0 0 ${box.w} ${box.h}`);
  for (const seg of placed) {
    const [x1, y1] = at(seg.start);
    const [x2, y2] = at(seg.end);
    const group = svgEl("g", { class: "seg", "data-segment": seg.id, tabindex: "0" });
    const title = svgEl("title");
    title.textContent = segmentTitle(seg);
    group.append(title);
    const ends = { x1, y1, x2, y2 };
    if (seg.id === selected) group.append(svgEl("line", { ...ends, class: "halo" }));
    if (overridden.has(seg.id)) group.append(svgEl("line", { ...ends, class: "ring" }));
    group.append(svgEl("line", { ...ends, class: "lamp", stroke: levelColour(seg.level) }));
    group.addEventListener("click", () => selectSegment(seg.id));
    group.addEventListener("keydown", (e) => e.key === "Enter" && selectSegment(seg.id));
    svg.append(group);
  }
  labelStreets(placed, at);
}

function labelStreets(placed, at) {
  // Each street's name by its first segment's start, above the lines so it stays legible.
  const firsts = new Map();
  for (const seg of placed) {
    const first = firsts.get(seg.street);
    if (!first || seg.order < first.order) firsts.set(seg.street, seg);
  }
  for (const [street, seg] of firsts) {
    const [x, y] = at(seg.start);
    const label = svgEl("text", { x, y: y - 20, class: "street-label", "text-anchor": "middle" });
    label.textContent = street;
    svg.append(label);
  }
}

function drawRows(loose, overridden) {
  const rows = $("rows");
  rows.replaceChildren();
  const streets = new Map();
  for (const seg of [...loose].sort((a, b) => a.order - b.order)) {
    if (!streets.has(seg.street)) streets.set(seg.street, []);
    streets.get(seg.street).push(seg);
  }
  for (const [street, segs] of streets) {
    const boxes = segs.map((seg) => {
      const classes = ["box"];
      if (seg.id === selected) classes.push("selected");
      if (overridden.has(seg.id)) classes.push("overridden");
      if ((seg.level ?? 0) > 0.55) classes.push("bright");
      const box = el(
        "button",
        { type: "button", class: classes.join(" "), "data-segment": seg.id, title: segmentTitle(seg) },
        el("span", { class: "box-id" }, seg.id),
        el("span", { class: "box-level" }, pct(seg.level)),
      );
      box.style.background = levelColour(seg.level);
      box.addEventListener("click", () => selectSegment(seg.id));
      return box;
    });
    rows.append(el("div", { class: "street-row" }, el("h3", {}, street), el("div", { class: "boxes" }, ...boxes)));
  }
}

function drawDetails(state) {
  const seg = state.segments.find((s) => s.id === selected);
  const panel = $("details");
  if (!seg) {
    panel.replaceChildren(el("p", { class: "muted" }, "Tap a segment for its details."));
    return;
  }
  const lamp = seg.lamp || {};
  const facts = [
    ["Segment", seg.id],
    ["Street", seg.street],
    ["Level", pct(seg.level)],
    ["Reason", seg.reason || "–"],
    ["Traffic class", seg.traffic_class || "–"],
    ["Walkers / h", num(seg.walkers_per_h, 0)],
    ["Lamp reports", seg.lamp ? `${pct(lamp.level)} · ${num(lamp.power_w)} W · ${lamp.status || "–"}` : "nothing yet"],
  ];
  const list = el("dl", { class: "facts" });
  for (const [k, v] of facts) list.append(el("dt", {}, k), el("dd", {}, v));
  panel.replaceChildren(list);
}

// ---- Act --------------------------------------------------------------------------------

function fillTargets(state) {
  const select = $("target");
  const keep = select.value;
  const key = JSON.stringify(state.segments.map((s) => [s.id, s.street]));
  if (select.dataset.key !== key) {
    select.dataset.key = key;
    const streets = [...new Set(state.segments.map((s) => s.street))];
    select.replaceChildren(
      el("option", { value: "all" }, "all (the whole site)"),
      el("optgroup", { label: "Streets" }, ...streets.map((s) => el("option", { value: s }, s))),
      el("optgroup", { label: "Segments" }, ...state.segments.map((s) => el("option", { value: s.id }, s.id))),
      el("option", { value: OTHER }, "a group…"),
    );
    if ([...select.options].some((o) => o.value === keep)) select.value = keep;
  }
}

function syncOther() {
  const other = $("target").value === OTHER;
  $("target-other-label").hidden = !other;
}

function target() {
  return $("target").value === OTHER ? $("target-other").value.trim() : $("target").value;
}

function showResult(ok, text) {
  const result = $("result");
  result.className = `result ${ok ? "ok" : "error"}`;
  result.textContent = text;
}

// The console token, typed in the Act form or in the prompt, kept for this tab only.
function token() {
  return (sessionStorage.getItem(TOKEN_KEY) || "").trim();
}

function keepToken(value) {
  sessionStorage.setItem(TOKEN_KEY, value);
  $("token").value = value;
}

function authHeaders(extra) {
  const headers = { ...(extra || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  return headers;
}

async function act(method, path, body) {
  keepToken($("token").value.trim());
  const headers = authHeaders({ "Content-Type": "application/json" });
  try {
    const response = await fetch(path, { method, headers, body: body && JSON.stringify(body) });
    const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
    if (response.ok) return { ok: true };
    return { ok: false, text: `${answer.error}${answer.detail ? `: ${answer.detail}` : ""}` };
  } catch (error) {
    return { ok: false, text: `the gateway did not answer (${error.message})` };
  }
}

async function setOverride(event) {
  event.preventDefault();
  const name = target();
  const level = Number($("level").value) / 100;
  const minutes = $("duration").value.trim();
  const body = { target: name, level, duration_s: minutes ? Number(minutes) * 60 : null };
  const done = await act("POST", "/api/overrides", body);
  const span = minutes ? ` for ${minutes} min` : "";
  showResult(done.ok, done.ok ? `${name} set to ${pct(level)}${span}` : done.text);
}

async function clearOverride(name) {
  const done = await act("DELETE", `/api/overrides/${encodeURIComponent(name)}`);
  showResult(done.ok, done.ok ? `${name}: override cleared` : done.text);
}

async function ackAlert(id) {
  const done = await act("POST", `/api/alerts/${encodeURIComponent(id)}/ack`);
  showResult(done.ok, done.ok ? `${id} acknowledged` : done.text);
}

function drawOverrides(state) {
  const items = (state.overrides || []).map((o) =>
    el(
      "li",
      { "data-override": o.segment },
      el("span", { class: "chip", style: `background:${levelColour(o.level)}` }),
      el("span", { class: "grow" }, el("b", {}, o.segment), ` at ${pct(o.level)}`),
      el("span", { class: "muted small" }, o.until ? `until ${siteTime(o.until)}` : "no end"),
      el("button", { type: "button", class: "small-btn", onclick: () => clearOverride(o.segment) }, "Clear"),
    ),
  );
  $("overrides").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "None: the schedule and presence decide.")]));
}

// ---- What is wrong ----------------------------------------------------------------------

function drawAlerts(state) {
  const items = (state.alerts || []).map((a) =>
    el(
      "li",
      { class: a.acked ? "acked" : "alert" },
      el("span", { class: "grow" }, el("b", {}, a.type.replaceAll("_", " ")), ` · ${a.subject}`,
        el("br"), el("span", { class: "muted small" }, `since ${siteTime(a.since, true)}`)),
      a.acked
        ? el("span", { class: "muted small" }, `acked by ${a.acked_by || "?"}`)
        : el("button", { type: "button", class: "small-btn", onclick: () => ackAlert(a.id) }, "Ack"),
    ),
  );
  $("alerts").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No active alert.")]));
}

function drawSystem(state) {
  const spool = state.spool || {};
  const lag = spool.oldest_unwritten_age_s;
  const facts = [
    ["Broker", `${state.broker.connected ? "connected" : "DISCONNECTED"} · ${state.broker.url}`],
    ["Database lag", lag === null || lag === undefined ? "none" : `${num(lag)} s (${plural(spool.unwritten, "row")} waiting)`],
    ["Spool", `${plural(spool.rows ?? 0, "row")} · ${num((spool.size_bytes || 0) / 1048576, 2)} MB`],
  ];
  const list = $("system");
  list.replaceChildren();
  for (const [k, v] of facts) list.append(el("dt", {}, k), el("dd", {}, v));
  $("broker").textContent = state.broker.connected ? "broker connected" : "broker down";
  $("broker").className = `pill ${state.broker.connected ? "on" : "bad"}`;
}

function drawDevices(state) {
  const ageOf = (d) => (d.last_heard === null || d.last_heard === undefined ? Infinity : state.ts - d.last_heard);
  const devices = [...(state.devices || [])].sort((a, b) => ageOf(b) - ageOf(a));
  const items = devices.map((d) => {
    const seconds = ageOf(d);
    return el(
      "li",
      { class: seconds > STALE_S ? "stale" : "" },
      el("span", { class: "grow" }, el("b", {}, d.id), ` · ${d.kind}${d.segment ? ` · ${d.segment}` : ""}`),
      el("span", { class: "small" }, age(seconds === Infinity ? null : seconds)),
    );
  });
  $("devices").replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, "No device registered.")]));
}

// ---- What it saved ----------------------------------------------------------------------

function energyRow(name, e) {
  const top = Math.max(e.always_on_kwh || 0, e.static_kwh || 0, e.kwh || 0, 1e-9);
  // Below a watt-hour, a share is noise (the first seconds of a night): none is shown.
  const share = (base) => (base >= 0.001 ? Math.round(100 * (1 - e.kwh / base)) : null);
  const saved = share(e.always_on_kwh);
  const vsStatic = share(e.static_kwh);
  const bar = (label, value, cls) => [
    el("span", { class: "bar-label" }, label),
    el("span", { class: "bar-track" },
      el("span", { class: `bar ${cls}`, style: `width:${(100 * (value || 0)) / top}%` })),
    el("span", { class: "bar-value" }, energyText(value)),
  ];
  const note = vsStatic === null ? "" : `${Math.abs(vsStatic)} % ${vsStatic >= 0 ? "under" : "over"} the static schedule`;
  return el(
    "div",
    { class: "energy-row", "data-energy": name },
    el("div", { class: "energy-head" }, el("b", {}, name),
      el("span", { class: "saved-pct" }, saved === null ? "" : `${saved} % saved vs always-on`)),
    el("div", { class: "bars" }, ...bar("used", e.kwh, "used"), ...bar("static", e.static_kwh, "static"),
      ...bar("always-on", e.always_on_kwh, "always")),
    el("div", { class: "muted small" }, note),
  );
}

function drawEnergy(state) {
  const energy = state.energy;
  if (!energy) {
    $("energy").replaceChildren(el("p", { class: "muted" }, "No energy figures yet."));
    return;
  }
  $("energy-since").textContent = `tonight, since ${siteTime(energy.since, true)}`;
  const rows = [energyRow("Site", energy.site)];
  for (const [street, e] of Object.entries(energy.streets || {})) rows.push(energyRow(street, e));
  $("energy").replaceChildren(...rows);
}

// ---- Live -------------------------------------------------------------------------------

function render(state) {
  if (!state) return;
  current = state;
  $("site-name").textContent = state.site.name || state.site.id;
  $("site-id").textContent = state.site.id;
  $("site-clock").textContent = siteTime(state.ts, true);
  document.title = `Luciole · ${state.site.name || state.site.id}`;
  fillTargets(state);
  drawMap(state);
  drawDetails(state);
  drawOverrides(state);
  drawAlerts(state);
  drawSystem(state);
  drawDevices(state);
  drawEnergy(state);
}

function setLive(on) {
  $("live").textContent = on ? "live" : "disconnected";
  $("live").className = `pill ${on ? "on" : "bad"}`;
}

let source = null;

// From another address than the gateway's own, reads need the token: the prompt asks for it.
function showUnlock(answer, refused) {
  if (source) source.close();
  source = null;
  $("live").textContent = "locked";
  $("live").className = "pill bad";
  $("main").hidden = true;
  $("unlock").hidden = false;
  if (answer.error === "no_console_token") $("unlock-why").textContent = answer.detail;
  $("unlock-result").textContent = refused ? "That token was refused: check it and try again." : "";
  $("unlock-token").focus();
}

function hideUnlock() {
  $("unlock").hidden = true;
  $("main").hidden = false;
}

// The state once, then the stream; a 401 (or 403) on the read shows the prompt instead.
async function connect(refusedIfLocked) {
  let response;
  try {
    response = await fetch("/api/state", { headers: authHeaders() });
  } catch (error) {
    setLive(false);
    return;
  }
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (response.status === 401 || response.status === 403) {
    showUnlock(answer, refusedIfLocked && response.status === 401);
    return;
  }
  if (!response.ok) {
    setLive(false);
    return;
  }
  hideUnlock();
  render(answer);
  listen();
}

function listen() {
  if (source) source.close();
  // EventSource cannot send a header: the token goes in the query string (never logged).
  const query = token() ? `?token=${encodeURIComponent(token())}` : "";
  source = new EventSource(`/api/events${query}`);
  source.addEventListener("open", () => setLive(true));
  source.addEventListener("error", () => {
    setLive(false); // EventSource retries by itself, except after a refusal (then CLOSED)
    if (source && source.readyState === EventSource.CLOSED) setTimeout(() => connect(false), 2000);
  });
  source.addEventListener("state", (e) => {
    setLive(true);
    render(JSON.parse(e.data));
  });
}

function unlock(event) {
  event.preventDefault();
  keepToken($("unlock-token").value.trim());
  $("unlock-result").textContent = "";
  connect(true);
}

function start() {
  $("token").value = token();
  $("override-form").addEventListener("submit", setOverride);
  $("clear").addEventListener("click", () => clearOverride(target()));
  $("target").addEventListener("change", syncOther);
  $("unlock-form").addEventListener("submit", unlock);
  connect(Boolean(token()));
}

start();
