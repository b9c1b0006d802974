// RaDis dashboard: one page, no build step, no CDN. Views are hash routes:
//   #/jobs            the project's jobs
//   #/jobs/<id>       one job: timeline, live loss curve, before/after, retention, rationales, checkpoints
//   #/compare[/a/b]   two jobs side by side (e.g. radis vs supervised on the same data)
// The API key lives in sessionStorage (gone when the tab closes) and goes out as a Bearer header;
// the page's own files are public and hold no data.
"use strict";

const KEY_STORAGE = "radis.apiKey";
const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);
const view = document.getElementById("view");
let stopCurrent = () => {};  // aborts the event stream of the view being left

// --- small DOM helper: text always goes through textContent (no HTML from the API is ever parsed) ---
function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const SVG_NS = "http://www.w3.org/2000/svg";
function s(tag, attrs, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
  for (const child of children.flat()) if (child !== null && child !== undefined) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

// --- API ---
class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, options = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const response = await fetch(path, { ...options, headers: { ...(options.headers || {}), Authorization: `Bearer ${key}` } });
  if (response.status === 401) {
    sessionStorage.removeItem(KEY_STORAGE);
    showLogin("The key was refused (missing, unknown or revoked).");
    throw new ApiError(401, "unauthorized");
  }
  if (!response.ok) {
    let message = response.statusText;
    try { message = (await response.json()).error.message; } catch (_) { /* not the error envelope */ }
    throw new ApiError(response.status, message);
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();

// Reads GET …/events/stream (SSE) with fetch, since EventSource cannot send the Bearer header.
// Calls onEvent(event) per event and onEnd(job) at the end; reconnects with Last-Event-ID.
function streamEvents(jobId, onEvent, onEnd) {
  const controller = new AbortController();
  let lastId = null;
  let failures = 0;
  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const headers = lastId ? { "Last-Event-ID": lastId } : {};
        const response = await api(`/v1/fine_tuning/jobs/${encodeURIComponent(jobId)}/events/stream`, { headers, signal: controller.signal });
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const message = { event: "message", data: [], id: null };
            for (const line of block.split("\n")) {
              if (!line || line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const name = colon < 0 ? line : line.slice(0, colon);
              const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
              if (name === "data") message.data.push(value);
              else if (name === "event") message.event = value;
              else if (name === "id") message.id = value;
            }
            if (!message.data.length) continue;
            failures = 0;
            const payload = JSON.parse(message.data.join("\n"));
            if (message.event === "end") { onEnd(payload); return; }
            if (message.id) lastId = message.id;
            onEvent(payload);
          }
        }
      } catch (error) {
        if (controller.signal.aborted || (error instanceof ApiError)) return;
      }
      failures += 1;
      if (failures > 10) return;
      await new Promise((resolve) => setTimeout(resolve, 1000 * failures));
    }
  };
  run();
  return () => controller.abort();
}

// --- formatting ---
const fmtTime = (unix) => (unix ? new Date(unix * 1000).toLocaleString() : "");
function fmtDuration(job) {
  const end = job.finished_at || (TERMINAL.has(job.status) ? null : Date.now() / 1000);
  if (!end) return "";
  const total = Math.max(0, Math.round(end - job.created_at));
  const hours = Math.floor(total / 3600), minutes = Math.floor((total % 3600) / 60), seconds = total % 60;
  const mm = String(minutes).padStart(hours ? 2 : 1, "0"), ss = String(seconds).padStart(2, "0");
  return hours ? `${hours}:${mm}:${ss}` : `${mm}:${ss}`;
}
const num = (value, digits = 2) => (typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "n/a");
const methodOf = (job) => (job.method && job.method.type) || "";
// replaceChildren would print null/false as text: keep only real children.
const fill = (node, ...children) => node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
const statusBadge = (status) => h("span", { class: `badge status-${status}` }, status);

// --- login ---
function showLogin(message) {
  stopCurrent();
  document.getElementById("logout").hidden = true;
  const input = h("input", { type: "password", id: "api-key", placeholder: "sk-radis-…", autocomplete: "off", required: true });
  const note = h("p", { class: "error", id: "login-error" }, message || "");
  const form = h("form", { id: "login", class: "card narrow", onsubmit: async (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY_STORAGE, input.value.trim());
    try {
      await getJSON("/v1/fine_tuning/jobs?limit=1");
      route();
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 401)) note.textContent = `Could not reach the API: ${error.message}`;
    }
  } },
    h("h1", {}, "Sign in"),
    h("p", {}, "Paste a project API key. It is kept only in this tab (sessionStorage) and sent as a Bearer header."),
    h("label", { for: "api-key" }, "API key"), input,
    h("button", { type: "submit" }, "Open dashboard"), note);
  fill(view, form);
  input.focus();
}

// --- jobs list ---
async function showJobs() {
  const jobs = (await getJSON("/v1/fine_tuning/jobs?limit=100")).data;
  const rows = jobs.map((job) => h("tr", { "data-job": job.id },
    h("td", {}, h("a", { href: `#/jobs/${job.id}` }, job.id)),
    h("td", {}, statusBadge(job.status)),
    h("td", {}, job.stage || ""),
    h("td", {}, h("progress", { max: 1, value: job.progress }), ` ${Math.round(job.progress * 100)}%`),
    h("td", {}, job.model), h("td", {}, methodOf(job)),
    h("td", {}, fmtTime(job.created_at)), h("td", {}, fmtDuration(job))));
  fill(view, h("section", { class: "card" },
    h("h1", {}, "Fine-tuning jobs"),
    jobs.length ? h("table", { id: "jobs" },
      h("thead", {}, h("tr", {}, ["Job", "Status", "Stage", "Progress", "Model", "Method", "Created", "Duration"].map((t) => h("th", {}, t)))),
      h("tbody", {}, rows))
      : h("p", {}, "No jobs yet. Create one with `radis jobs create`.")));
  // Refresh while something is running (the list has no stream of its own).
  if (jobs.some((job) => !TERMINAL.has(job.status))) {
    const timer = setTimeout(() => { if (location.hash === "#/jobs" || location.hash === "") showJobs().catch(showError); }, 3000);
    stopCurrent = () => clearTimeout(timer);
  }
}

// --- charts ---
// A line chart of one or more series [{label, points: [[x, y]...], cls}] as inline SVG.
function lineChart(series, { id, xLabel, yLabel }) {
  const W = 640, H = 260, L = 56, R = 16, T = 16, B = 40;
  const all = series.flatMap((one) => one.points);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id, role: "img", "data-points": String(all.length) });
  if (!all.length) {
    svg.append(s("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "muted" }, "No training steps yet"));
    return svg;
  }
  const xs = all.map((p) => p[0]), ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs, x0 + 1);
  let y0 = Math.min(...ys), y1 = Math.max(...ys);
  if (y1 - y0 < 1e-9) { y0 -= 0.5; y1 += 0.5; }
  const px = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const y = y0 + ((y1 - y0) * i) / 4;
    svg.append(s("line", { x1: L, x2: W - R, y1: py(y), y2: py(y), class: "grid" }));
    svg.append(s("text", { x: L - 6, y: py(y) + 4, "text-anchor": "end", class: "tick" }, y.toFixed(3)));
  }
  svg.append(s("text", { x: L, y: H - 20, "text-anchor": "middle", class: "tick" }, String(x0)));
  svg.append(s("text", { x: W - R, y: H - 20, "text-anchor": "end", class: "tick" }, String(x1)));
  svg.append(s("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "axis" }, xLabel));
  svg.append(s("text", { x: 12, y: (T + H - B) / 2, transform: `rotate(-90 12 ${(T + H - B) / 2})`, "text-anchor": "middle", class: "axis" }, yLabel));
  series.forEach((one, index) => {
    const d = one.points.map((p, i) => `${i ? "L" : "M"}${px(p[0]).toFixed(1)},${py(p[1]).toFixed(1)}`).join(" ");
    svg.append(s("path", { d, class: `line ${one.cls || `series-${index}`}` }));
    for (const p of one.points) svg.append(s("circle", { cx: px(p[0]), cy: py(p[1]), r: 2.5, class: `dot ${one.cls || `series-${index}`}` }, s("title", {}, `${one.label} step ${p[0]}: ${p[1].toFixed(4)}`)));
  });
  if (series.length > 1) {
    series.forEach((one, index) => {
      svg.append(s("rect", { x: W - R - 150, y: T + 4 + index * 16, width: 10, height: 10, class: `swatch ${one.cls || `series-${index}`}` }));
      svg.append(s("text", { x: W - R - 134, y: T + 13 + index * 16, class: "tick" }, one.label));
    });
  }
  return svg;
}

const lossPoints = (events) => events
  .filter((e) => e.type === "metrics" && e.data && typeof e.data.step === "number" && typeof e.data.train_loss === "number")
  .map((e) => [e.data.step, e.data.train_loss]);

// A paired-bootstrap interval of a delta and its reading ("no measurable difference" when it spans 0).
const intervalText = (iv, digits = 2) => (iv && typeof iv.low === "number"
  ? `[${iv.low >= 0 ? "+" : ""}${num(iv.low, digits)}, ${iv.high >= 0 ? "+" : ""}${num(iv.high, digits)}] ${iv.verdict}` : "");

// Before/after table of the translation metrics, each delta with its 95 % interval.
function scoresTable(report) {
  const table = h("table", { class: "scores" }, h("thead", {}, h("tr", {}, ["Metric", "Base", "Tuned", "Δ", "95 % interval of Δ"].map((t) => h("th", {}, t)))));
  const body = h("tbody");
  const tr = (report && report.translation) || {};
  const row = (key, label, m, digits = 2) => h("tr", { "data-metric": key }, h("td", {}, label), h("td", {}, num(m.base, digits)), h("td", {}, num(m.tuned, digits)),
    h("td", { class: m.delta > 0 ? "up" : m.delta < 0 ? "down" : "" }, m.delta === null || m.delta === undefined ? "" : (m.delta > 0 ? "+" : "") + num(m.delta, digits)),
    h("td", { class: "interval" }, intervalText(m.interval, digits)));
  const directions = Object.entries(tr.directions || {});
  for (const [key, label] of [["bleu", "BLEU"], ["chrf", "chrF++"]]) {
    const m = tr[key];
    if (!m) continue;
    body.append(row(key, directions.length > 1 ? `${label} (mean of directions)` : label, m));
    if (directions.length > 1) for (const [name, d] of directions) body.append(row(`${key}-${name}`, `${label} ${name} (n=${d.n})`, d[key]));
  }
  if (tr.placeholders && tr.placeholders.available) body.append(row("placeholders", `placeholders kept (n=${tr.placeholders.n})`, tr.placeholders, 3));
  const comet = tr.comet || {};
  body.append(comet.available
    ? h("tr", { "data-metric": "comet" }, h("td", {}, "COMET"), h("td", {}, num(comet.base.score, 4)), h("td", {}, num(comet.tuned.score, 4)), h("td", {}, num(comet.delta, 4)), h("td", {}, ""))
    : h("tr", { "data-metric": "comet" }, h("td", {}, "COMET"), h("td", { colspan: 4, class: "muted" }, `not available: ${(comet.base && comet.base.reason) || "no local checkpoint"}`)));
  table.append(body);
  const caption = tr.n ? h("p", { class: "muted" }, `${tr.n} held-out pairs`) : null;
  return h("div", {}, table, caption);
}

// Retention per benchmark: tuned/base as a bar, the base model at 1.0, the job's min_retention as a line.
function retentionBars(report) {
  const retention = (report && report.retention) || {};
  if (!retention.benchmarks) return h("p", { class: "muted", id: "retention" }, `Retention not measured: ${retention.reason || "no report"}`);
  const names = Object.keys(retention.benchmarks);
  const minimum = typeof retention.min_retention === "number" ? retention.min_retention : null;
  const ratios = names.map((n) => retention.benchmarks[n].retention).filter((r) => typeof r === "number");
  const top = Math.max(1.25, ...ratios, minimum || 0);
  const W = 640, L = 150, R = 120, rowH = 30, T = 10, B = 28;
  const H = T + B + rowH * (names.length + 1);
  const px = (v) => L + (v / top) * (W - L - R);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", id: "retention", role: "img" });
  const rows = [...names.map((n) => [n, retention.benchmarks[n]]), ["overall", retention.overall || {}]];
  rows.forEach(([name, row], i) => {
    const y = T + i * rowH;
    const value = row.retention;
    svg.append(s("text", { x: L - 8, y: y + 19, "text-anchor": "end", class: "label" }, name));
    if (typeof value === "number") {
      const below = minimum !== null && value < minimum;
      svg.append(s("rect", { x: L, y: y + 6, width: Math.max(1, px(value) - L), height: rowH - 12, class: `bar ${below ? "below" : ""} ${name === "overall" ? "overall" : ""}`, "data-benchmark": name },
        s("title", {}, row.formula || `${name}: ${value}`)));
      svg.append(s("text", { x: px(value) + 6, y: y + 19, class: "tick" }, value.toFixed(2)));
      if (typeof row.base === "number") svg.append(s("text", { x: W - 4, y: y + 19, "text-anchor": "end", class: "tick muted" }, `${num(row.base)}→${num(row.tuned)}`));
    } else {
      svg.append(s("text", { x: L + 4, y: y + 19, class: "tick muted" }, `n/a: ${row.reason || ""}`));
    }
  });
  const bottom = H - B;
  svg.append(s("line", { x1: px(1), x2: px(1), y1: T, y2: bottom, class: "base-line" }));
  svg.append(s("text", { x: px(1), y: bottom + 14, "text-anchor": "middle", class: "tick" }, "base = 1.0"));
  if (minimum !== null) {
    svg.append(s("line", { x1: px(minimum), x2: px(minimum), y1: T, y2: bottom, class: "min-line", id: "min-retention" }));
    svg.append(s("text", { x: px(minimum), y: bottom + 26, "text-anchor": "middle", class: "tick min" }, `min_retention ${minimum}`));
  }
  // Each benchmark's change with its paired 95 % interval: a bar below 1.0 is forgetting only when the interval says so.
  const spread = h("ul", { class: "muted", id: "retention-intervals" }, names.filter((n) => retention.benchmarks[n].interval).map((n) =>
    h("li", { "data-benchmark": n }, `${n}: Δ ${intervalText(retention.benchmarks[n].interval, 3)} (n=${retention.benchmarks[n].interval.n})`)));
  return h("div", {}, svg, spread);
}

function stageTimeline(job, events) {
  const stages = events.filter((e) => e.data && typeof e.data.stage === "string").map((e) => ({ stage: e.data.stage, at: e.created_at }));
  const list = h("ol", { class: "timeline", id: "timeline" });
  const started = events.find((e) => e.message.startsWith("Fine-tuning job started"));
  list.append(h("li", { class: "done" }, h("b", {}, "created"), ` ${fmtTime(job.created_at)}`));
  if (started) list.append(h("li", { class: "done" }, h("b", {}, "started"), ` ${fmtTime(started.created_at)}`));
  stages.forEach((st, i) => {
    const end = i + 1 < stages.length ? stages[i + 1].at : job.finished_at;
    const current = !TERMINAL.has(job.status) && i === stages.length - 1;
    list.append(h("li", { class: current ? "current" : "done", "data-stage": st.stage },
      h("b", {}, st.stage.replace(/_/g, " ")), ` ${fmtTime(st.at)}`, end ? h("span", { class: "muted" }, ` (${Math.max(0, end - st.at)} s)`) : " …"));
  });
  if (TERMINAL.has(job.status)) list.append(h("li", { class: `end status-${job.status}` }, h("b", {}, job.status), ` ${fmtTime(job.finished_at)}`));
  return list;
}

// What each generating method's teacher wrote per pair: the row key and the column title.
const TEACHER_TEXT = {
  radis: { key: "rationale", title: "Rationale", plural: "rationales" },
  sdft: { key: "rewrite", title: "Rewrite", plural: "rewrites" },
  seqkd: { key: "translation", title: "Teacher translation", plural: "teacher translations" },
};

function rationaleBrowser(records, hasMore, method = "radis") {
  const kind = TEACHER_TEXT[method] || TEACHER_TEXT.radis;
  const filter = h("select", { id: "rationale-filter" }, h("option", { value: "all" }, "all"), h("option", { value: "kept" }, "kept"), h("option", { value: "filtered" }, "filtered"));
  const body = h("tbody");
  const render = () => {
    fill(body, ...records
      .filter((r) => filter.value === "all" || (filter.value === "kept") === Boolean(r.kept))
      .map((r) => h("tr", { class: r.kept ? "kept" : "filtered" },
        h("td", {}, r.line ?? ""), h("td", {}, r.source ?? ""), h("td", {}, r.reference ?? ""),
        h("td", { class: "rationale" }, r[kind.key] ?? "", r.finish_reason === "length" ? h("div", { class: "muted" }, r.trimmed ? "cut by the budget; trimmed to its last sentence" : "cut by the budget") : null,
          r.chrf != null ? h("div", { class: "muted" }, `chrF++ ${r.chrf} vs reference`) : null),
        h("td", {}, r.kept ? h("span", { class: "badge status-succeeded" }, "kept") : h("span", { class: "badge status-failed" }, `filtered: ${r.reason || "?"}`),
          r.detail ? h("div", { class: "muted" }, r.detail) : null, r.cached ? h("div", { class: "muted" }, "cached") : null))));
  };
  filter.addEventListener("change", render);
  render();
  const kept = records.filter((r) => r.kept).length;
  return h("div", { id: "rationales" },
    h("p", {}, `${records.length}${hasMore ? "+" : ""} ${kind.plural} shown: ${kept} kept, ${records.length - kept} filtered (filtered pairs train on the reference alone). Show `, filter),
    h("table", { class: "rationales" }, h("thead", {}, h("tr", {}, ["Line", "Source", "Reference", kind.title, "Kept?"].map((t) => h("th", {}, t)))), body));
}

function checkpointsTable(checkpoints) {
  if (!checkpoints.length) return h("p", { class: "muted", id: "checkpoints" }, "No checkpoints.");
  return h("table", { id: "checkpoints" }, h("thead", {}, h("tr", {}, ["Step", "Model", "Metrics", "Saved"].map((t) => h("th", {}, t)))),
    h("tbody", {}, checkpoints.map((c) => h("tr", {}, h("td", {}, c.step_number), h("td", { class: "mono" }, c.fine_tuned_model_checkpoint),
      h("td", { class: "mono" }, Object.entries(c.metrics).map(([k, v]) => `${k}=${typeof v === "number" ? +v.toFixed(4) : v}`).join(" ")),
      h("td", {}, fmtTime(c.created_at))))));
}

async function sha256Hex(buffer) {
  if (!(crypto && crypto.subtle)) return null;  // only in secure contexts (https or localhost)
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function downloadButton(job) {
  const status = h("span", { id: "download-status", class: "muted" });
  const button = h("button", { id: "download-adapter", disabled: job.status !== "succeeded", onclick: async () => {
    status.textContent = "downloading…";
    try {
      const response = await api(`/v1/fine_tuning/jobs/${encodeURIComponent(job.id)}/adapter`);
      const expected = response.headers.get("X-Content-SHA256");
      const buffer = await response.arrayBuffer();
      const actual = await sha256Hex(buffer);
      if (expected && actual && expected !== actual) { status.textContent = `sha256 mismatch: server ${expected}, received ${actual}`; return; }
      const link = h("a", { href: URL.createObjectURL(new Blob([buffer], { type: "application/gzip" })), download: `${job.id}-adapter.tar.gz` });
      document.body.append(link);
      link.click();
      link.remove();
      status.textContent = `${buffer.byteLength} bytes, sha256 ${actual ? (expected ? "verified" : "computed") : "not checked"}: ${(actual || expected || "").slice(0, 16)}…`;
    } catch (error) { status.textContent = `download failed: ${error.message}`; }
  } }, "Download adapter (.tar.gz)");
  return h("div", { class: "download" }, button, " ", status);
}

async function optional(path) {
  try { return await getJSON(path); } catch (error) { if (error.status === 404) return null; throw error; }
}

// Everything a finished (or running) job shows, loaded once; events come from the SSE stream.
async function loadResults(job) {
  const [report, rationales, checkpoints] = await Promise.all([
    job.status === "succeeded" ? optional(`/v1/fine_tuning/jobs/${job.id}/report`) : null,
    TEACHER_TEXT[methodOf(job)] && job.status === "succeeded" ? optional(`/v1/fine_tuning/jobs/${job.id}/rationales?limit=100`) : null,
    getJSON(`/v1/fine_tuning/jobs/${job.id}/checkpoints?limit=100`),
  ]);
  return { report, rationales, checkpoints: checkpoints.data };
}

// --- one job ---
async function showJob(jobId) {
  let job = await getJSON(`/v1/fine_tuning/jobs/${encodeURIComponent(jobId)}`);
  const events = [];
  const header = h("div");
  const timeline = h("div");
  const curve = h("div");
  const log = h("ol", { class: "log", id: "event-log" });
  const results = h("div", { id: "results" });

  const renderHeader = () => fill(header, 
    h("h1", {}, job.id, " ", statusBadge(job.status)),
    h("p", {}, `${methodOf(job)} on ${job.model}`, job.fine_tuned_model ? ` → ${job.fine_tuned_model}` : "", ` · stage ${job.stage || "—"} · `,
      h("progress", { max: 1, value: job.progress }), ` ${Math.round(job.progress * 100)}% · created ${fmtTime(job.created_at)} · ${fmtDuration(job)}`),
    job.error ? h("p", { class: "error" }, `${job.error.code}: ${job.error.message}`) : null,
    downloadButton(job));
  const renderLive = () => {
    fill(timeline, stageTimeline(job, events));
    fill(curve, lineChart([{ label: "train loss", points: lossPoints(events), cls: "loss" }], { id: "loss-curve", xLabel: "step", yLabel: "training loss" }));
  };
  const renderResults = async () => {
    const { report, rationales, checkpoints } = await loadResults(job);
    fill(results, 
      h("section", { class: "card" }, h("h2", {}, "Translation: before / after"), report ? scoresTable(report) : h("p", { class: "muted" }, "The report appears when the job succeeds.")),
      h("section", { class: "card" }, h("h2", {}, "General-ability retention (tuned / base)"), report ? retentionBars(report) : h("p", { class: "muted" }, "—")),
      TEACHER_TEXT[methodOf(job)] ? h("section", { class: "card" }, h("h2", {}, TEACHER_TEXT[methodOf(job)].title + "s"),
        rationales ? rationaleBrowser(rationales.data, rationales.has_more, methodOf(job)) : h("p", { class: "muted" }, "They are published when the job succeeds.")) : null,
      h("section", { class: "card" }, h("h2", {}, "Checkpoints"), checkpointsTable(checkpoints)));
  };

  fill(view, h("section", { class: "card", id: "job" }, header),
    h("div", { class: "grid2" }, h("section", { class: "card" }, h("h2", {}, "Stages"), timeline),
      h("section", { class: "card" }, h("h2", {}, "Training loss"), curve)),
    results, h("section", { class: "card" }, h("h2", {}, "Events"), log));
  renderHeader();
  renderLive();
  await renderResults();

  let pending = null;
  const schedule = () => { if (!pending) pending = requestAnimationFrame(() => { pending = null; renderLive(); }); };
  stopCurrent = streamEvents(job.id, (event) => {
    events.push(event);
    if (event.type !== "metrics") log.append(h("li", { class: `level-${event.level}` }, h("span", { class: "muted" }, fmtTime(event.created_at)), " ", event.message));
    if (event.data && typeof event.data.stage === "string") job = { ...job, stage: event.data.stage };
    schedule();
  }, async (finalJob) => {
    const changed = finalJob.status !== job.status;
    job = finalJob;
    renderHeader();
    renderLive();
    if (changed) await renderResults();
    view.setAttribute("data-stream", "ended");
  });
}

// --- comparison ---
async function jobSummary(jobId) {
  const job = await getJSON(`/v1/fine_tuning/jobs/${encodeURIComponent(jobId)}`);
  const events = await new Promise((resolve) => {
    const collected = [];
    streamEvents(job.id, (event) => collected.push(event), () => resolve(collected));
  });
  const report = job.status === "succeeded" ? await optional(`/v1/fine_tuning/jobs/${job.id}/report`) : null;
  return { job, events, report };
}

async function showCompare(a, b) {
  const jobs = (await getJSON("/v1/fine_tuning/jobs?limit=100")).data;
  const picker = (id, selected) => h("select", { id }, h("option", { value: "" }, "— choose a job —"),
    jobs.map((j) => h("option", { value: j.id, selected: j.id === selected }, `${j.id} · ${methodOf(j)} · ${j.status}`)));
  const left = picker("compare-a", a), right = picker("compare-b", b);
  const form = h("form", { class: "card", onsubmit: (event) => { event.preventDefault(); location.hash = `#/compare/${left.value}/${right.value}`; } },
    h("h1", {}, "Compare two jobs"), left, " vs ", right, " ", h("button", { type: "submit" }, "Compare"));
  if (!a || !b) { fill(view, form); return; }
  const [A, B] = await Promise.all([jobSummary(a), jobSummary(b)]);
  const label = (x) => `${methodOf(x.job)} (${x.job.id.slice(-6)})`;
  const metric = (x, path) => path.reduce((obj, k) => (obj && obj[k] !== undefined ? obj[k] : null), x.report);
  const benchmarks = Object.keys(metric(A, ["retention", "benchmarks"]) || metric(B, ["retention", "benchmarks"]) || {});
  const rows = [["BLEU (tuned)", ["translation", "bleu", "tuned"]], ["BLEU Δ", ["translation", "bleu", "delta"]],
    ["BLEU Δ, 95 % interval", ["translation", "bleu", "interval"]],
    ["chrF++ (tuned)", ["translation", "chrf", "tuned"]], ["chrF++ Δ", ["translation", "chrf", "delta"]],
    ["chrF++ Δ, 95 % interval", ["translation", "chrf", "interval"]],
    ...benchmarks.map((n) => [`${n} Δ, 95 % interval`, ["retention", "benchmarks", n, "interval"]]),
    ["overall retention", ["retention", "overall", "retention"]], ["trained tokens", null]];
  const cell = (x, path) => { const v = metric(x, path); return v && typeof v === "object" ? intervalText(v, path[0] === "retention" ? 3 : 2) : num(v); };
  const diff = h("table", { id: "compare-table" }, h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", {}, label(A)), h("th", {}, label(B)))),
    h("tbody", {}, rows.map(([name, path]) => h("tr", {}, h("td", {}, name),
      ...[A, B].map((x) => h("td", {}, path ? cell(x, path) : String(x.job.trained_tokens ?? "")))))));
  const column = (x) => h("section", { class: "card" },
    h("h2", {}, h("a", { href: `#/jobs/${x.job.id}` }, x.job.id), " ", statusBadge(x.job.status)),
    h("p", {}, `${methodOf(x.job)} on ${x.job.model} · ${fmtDuration(x.job)}`),
    h("h3", {}, "Before / after"), x.report ? scoresTable(x.report) : h("p", { class: "muted" }, "no report"),
    h("h3", {}, "Retention"), x.report ? retentionBars(x.report) : h("p", { class: "muted" }, "no report"));
  const overlay = lineChart([{ label: label(A), points: lossPoints(A.events), cls: "series-0" }, { label: label(B), points: lossPoints(B.events), cls: "series-1" }],
    { id: "compare-loss", xLabel: "step", yLabel: "training loss" });
  fill(view, form, h("section", { class: "card" }, h("h2", {}, "Summary"), diff, h("h3", {}, "Training loss"), overlay),
    h("div", { class: "grid2", id: "compare" }, column(A), column(B)));
}

// --- router ---
function showError(error) {
  if (error instanceof ApiError && error.status === 401) return;
  fill(view, h("section", { class: "card" }, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, error.message)));
}

function route() {
  stopCurrent();
  stopCurrent = () => {};
  view.removeAttribute("data-stream");
  if (!sessionStorage.getItem(KEY_STORAGE)) { showLogin(); return; }
  document.getElementById("logout").hidden = false;
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  let shown;
  if (parts[0] === "jobs" && parts[1]) shown = showJob(parts[1]);
  else if (parts[0] === "compare") shown = showCompare(parts[1], parts[2]);
  else shown = showJobs();
  shown.catch(showError);
}

document.getElementById("logout").addEventListener("click", () => { sessionStorage.removeItem(KEY_STORAGE); showLogin(); });
window.addEventListener("hashchange", route);
route();
