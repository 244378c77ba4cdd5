// ciscope pages: fetch from /api and draw with DOM text nodes only (never innerHTML), so
// test names, messages and log lines from CI stay text.
"use strict";

const C = (() => {
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function get(path) {
    const answer = await fetch(path, { headers: { Accept: "application/json" } });
    const body = await answer.json().catch(() => null);
    if (!answer.ok) throw new Error(body && body.error ? body.error : `${path}: HTTP ${answer.status}`);
    return body;
  }

  // Fill `target` (an element or its id) with what `build(data)` returns once `path` answers.
  async function load(target, path, build) {
    const box = typeof target === "string" ? document.getElementById(target) : target;
    if (!box) return null;
    box.replaceChildren(el("p", { class: "loading", text: "loading…" }));
    try {
      const data = await get(path);
      box.replaceChildren(build(data) || "");
      return data;
    } catch (error) {
      box.replaceChildren(el("p", { class: "error", text: String(error.message || error) }));
      return null;
    }
  }

  const pct = (v) => (v === null || v === undefined ? "–" : `${(v * 100).toFixed(1)}%`);
  const time = (v) => (v ? String(v).replace("T", " ").replace(/:\d\d(\.\d+)?Z?$/, "") : "–");
  const enc = encodeURIComponent;
  const safeUrl = (u) => (typeof u === "string" && /^https?:\/\//i.test(u) ? u : null);
  const jobLink = (job) => el("a", { href: `/jobs/${enc(job)}`, text: job });
  const testLink = (test, job) => el("a", { href: `/tests/${enc(test)}${job ? `?job=${enc(job)}` : ""}`, text: test });
  const runLink = (build, job) => el("a", { href: `/runs/${enc(build)}${job ? `?job=${enc(job)}` : ""}`, text: build });
  const badge = (text) => el("span", { class: `badge ${text}`, text });
  const bugLink = (bug, url) => (safeUrl(url) ? el("a", { href: safeUrl(url), rel: "noreferrer", text: bug }) : el("span", { text: bug }));

  // A sortable table. columns: [{label, value(row), cell(row) -> Node|string, num}]
  function table(columns, rows, options = {}) {
    if (!rows.length) return el("p", { class: "muted", text: options.empty || "nothing to show" });
    let sortBy = options.sort ?? -1;
    let desc = options.desc ?? false;
    const thead = el("thead");
    const tbody = el("tbody");
    const headRow = el("tr");
    columns.forEach((col, i) => {
      const th = el("th", { class: `sortable${col.num ? " num" : ""}`, text: col.label, title: "sort" });
      th.addEventListener("click", () => { desc = sortBy === i ? !desc : !!col.num; sortBy = i; draw(); });
      headRow.append(th);
    });
    thead.append(headRow);
    function draw() {
      let shown = rows;
      if (sortBy >= 0) {
        const key = columns[sortBy].value;
        shown = [...rows].sort((a, b) => {
          const x = key(a), y = key(b);
          const r = x === y ? 0 : x === null || x === undefined ? 1 : y === null || y === undefined ? -1 : x < y ? -1 : 1;
          return desc ? -r : r;
        });
      }
      [...headRow.children].forEach((th, i) => {
        th.classList.toggle("sorted-asc", i === sortBy && !desc);
        th.classList.toggle("sorted-desc", i === sortBy && desc);
      });
      tbody.replaceChildren(...shown.map((row) => el("tr", {}, columns.map((col) =>
        el("td", { class: col.num ? "num" : col.wrap ? "wrap" : null }, col.cell ? col.cell(row) : col.value(row))))));
    }
    draw();
    return el("table", { class: "data" }, thead, tbody);
  }

  // A job selector and a text filter over rows having .job and .test; redraws `render(rows)`.
  function filtered(box, rows, render) {
    const jobs = [...new Set(rows.map((r) => r.job))].sort();
    const select = el("select", { "aria-label": "job" }, el("option", { value: "", text: "all jobs" }),
      jobs.map((j) => el("option", { value: j, text: j })));
    const text = el("input", { type: "search", placeholder: "filter tests", "aria-label": "filter tests" });
    const out = el("div");
    const redraw = () => {
      const needle = text.value.toLowerCase();
      out.replaceChildren(render(rows.filter((r) => (!select.value || r.job === select.value)
        && (!needle || r.test.toLowerCase().includes(needle)))));
    };
    select.addEventListener("change", redraw);
    text.addEventListener("input", redraw);
    redraw();
    box.replaceChildren(el("div", { class: "controls" }, select, text), out);
  }

  return { el, get, load, pct, time, enc, safeUrl, jobLink, testLink, runLink, badge, bugLink, table, filtered };
})();

const COLORS = ["#2457c5", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#2c3e50"];

const flakyColumns = [
  { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
  { label: "test", value: (r) => r.test, cell: (r) => C.testLink(r.test, r.job), wrap: true },
  { label: "runs", value: (r) => r.runs, num: true },
  { label: "flaked", value: (r) => r.flaked, num: true },
  { label: "isolated fails", value: (r) => r.isolated_failures, num: true },
  { label: "flip score", value: (r) => r.flip_score, num: true },
  { label: "flake rate", value: (r) => r.flake_rate, cell: (r) => C.pct(r.flake_rate), num: true },
  { label: "last flake", value: (r) => r.last_flake, cell: (r) => C.time(r.last_flake) },
];

const regressionColumns = [
  { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
  { label: "test", value: (r) => r.test, cell: (r) => C.testLink(r.test, r.job), wrap: true },
  { label: "status", value: (r) => r.status },
  { label: "basis", value: (r) => r.basis.pass_rate, cell: (r) => `${C.pct(r.basis.pass_rate)} of ${r.basis.runs}`, num: true },
  { label: "sample", value: (r) => r.sample.pass_rate, cell: (r) => `${C.pct(r.sample.pass_rate)} of ${r.sample.runs}`, num: true },
  { label: "p", value: (r) => r.p_value, cell: (r) => r.p_value.toPrecision(2), num: true },
  { label: "first bad run", value: (r) => r.first_bad_at, cell: (r) => (r.first_bad_build ? C.runLink(r.first_bad_build, r.job) : "–") },
  { label: "since", value: (r) => r.first_bad_at, cell: (r) => C.time(r.first_bad_at) },
];

const pages = {
  overview() {
    let rates = null;
    let summaries = null;
    const drawJobs = () => {
      if (!summaries) return;
      const byJob = Object.fromEntries(((rates && rates.jobs) || []).map((j) => [j.job, j]));
      document.getElementById("jobs").replaceChildren(C.table([
        { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
        { label: "status", value: (r) => r.overall_status, cell: (r) => C.badge(r.overall_status || "UNKNOWN") },
        { label: "recent columns", value: (r) => r.status, wrap: true },
        { label: "latest green", value: (r) => r.latest_green },
        { label: "alerts", value: (r) => r.alerts.length, num: true },
        { label: "classified", value: (r) => (byJob[r.job] || {}).classification_rate ?? null,
          cell: (r) => (rates ? C.pct((byJob[r.job] || {}).classification_rate) : "…"), num: true },
      ], summaries, { empty: "no jobs stored yet: `ciscope ingest` some runs" }));
    };
    C.load("jobs", "/api/summary", (data) => { summaries = data; return null; }).then(drawJobs);
    C.load("classification", "/api/unclassified?limit=0", (data) => {
      rates = data;
      drawJobs();
      return C.el("p", {}, "Classification rate: ", C.el("strong", { text: C.pct(data.classification_rate) }),
        ` (${data.classified} of ${data.failed_runs} failed runs explained by known bugs) · `,
        C.el("a", { href: "/uncategorized", text: `${data.unclassified} uncategorized` }));
    });
    C.load("top-bugs", "/api/bugs?days=1", (data) => C.table([
      { label: "bug", value: (r) => r.bug, cell: (r) => C.bugLink(r.bug, r.url) },
      { label: "title", value: (r) => r.title, wrap: true },
      { label: "24 h", value: (r) => r.hits["24h"], num: true },
      { label: "all", value: (r) => r.hits.all, num: true },
    ], data.filter((b) => b.hits["24h"] > 0).slice(0, 10), { empty: "no known bug hit in the last 24 hours" }));
    C.load("new-regressions", "/api/regressions", (data) => C.table(regressionColumns.filter((c) => c.label !== "p"),
      [...data].sort((a, b) => String(b.first_bad_at).localeCompare(String(a.first_bad_at))).slice(0, 10),
      { empty: "no regressions" }));
    C.load("flakiest", "/api/flaky?limit=10", (data) => C.table(flakyColumns.slice(0, 7), data, { empty: "no flaky tests" }));
  },

  flaky() {
    C.load("flaky-table", "/api/flaky", (data) => {
      const box = C.el("div");
      C.filtered(box, data, (rows) => C.table(flakyColumns, rows, { empty: "no flaky tests" }));
      return box;
    });
  },

  regressions() {
    C.load("regressions-table", "/api/regressions", (data) => {
      const box = C.el("div");
      C.filtered(box, data, (rows) => C.table(regressionColumns, rows, { empty: "no regressions" }));
      return box;
    });
  },

  bugs() {
    C.load("bugs-table", "/api/bugs", (data) => {
      drawBugChart(data);
      return C.table([
        { label: "bug", value: (r) => r.bug, cell: (r) => C.bugLink(r.bug, r.url) },
        { label: "title", value: (r) => r.title, wrap: true },
        { label: "24 h", value: (r) => r.hits["24h"], num: true },
        { label: "7 d", value: (r) => r.hits["7d"], num: true },
        { label: "10 d", value: (r) => r.hits["10d"], num: true },
        { label: "all", value: (r) => r.hits.all, num: true },
        { label: "share", value: (r) => r.share, cell: (r) => C.pct(r.share), num: true },
        { label: "jobs", value: (r) => r.jobs.length, num: true },
        { label: "last seen", value: (r) => r.last_seen, cell: (r) => C.time(r.last_seen) },
      ], data, { empty: "no known bugs: add fingerprints (docs/fingerprints.md)" });
    });
  },

  uncategorized() {
    C.load("uncategorized", "/api/unclassified?limit=500", (data) => C.el("div", {},
      C.el("p", {}, "Classification rate: ", C.el("strong", { text: C.pct(data.classification_rate) }),
        ` — ${data.classified} of ${data.failed_runs} failed runs explained by known bugs.`),
      C.el("h2", { text: "Per job" }),
      C.table([
        { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
        { label: "failed runs", value: (r) => r.failed_runs, num: true },
        { label: "classified", value: (r) => r.classified, num: true },
        { label: "rate", value: (r) => r.classification_rate, cell: (r) => C.pct(r.classification_rate), num: true },
      ], data.jobs),
      C.el("h2", { text: `Unclassified failed runs (${data.unclassified}, newest first)` }),
      C.table([
        { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
        { label: "build", value: (r) => r.build, cell: (r) => C.runLink(r.build, r.job) },
        { label: "started", value: (r) => r.started_at, cell: (r) => C.time(r.started_at) },
        { label: "failed tests", value: (r) => r.failed_tests, num: true },
        { label: "reason", value: (r) => r.message || "", wrap: true },
        { label: "cluster", value: (r) => r.cluster || "" },
      ], data.runs, { empty: "every failed run is explained" })));
  },

  clusters() {
    C.load("clusters-list", "/api/clusters?limit=100", (data) => {
      if (location.hash) requestAnimationFrame(() => { const t = document.getElementById(location.hash.slice(1)); if (t) t.scrollIntoView(); });
      if (!data.length) return C.el("p", { class: "muted", text: "no unexplained failures" });
      return C.el("div", {}, data.map((c) => {
        const yaml = fingerprintYaml(c);
        const pre = C.el("pre", { class: "yaml", text: yaml });
        const copy = C.el("button", { class: "copy", type: "button", text: "copy YAML" });
        copy.addEventListener("click", async () => {
          try { await navigator.clipboard.writeText(yaml); copy.textContent = "copied"; }
          catch (_) { window.getSelection().selectAllChildren(pre); copy.textContent = "selected: press Ctrl-C"; }
        });
        return C.el("div", { class: "cluster", id: `cluster-${c.id}` },
          C.el("h3", {}, `${c.size} failures · ${c.runs} runs · ${c.tests} tests · ${c.jobs} jobs`,
            C.el("span", { class: "muted", text: ` · last seen ${C.time(c.last_seen)} · latest run ` }),
            C.runLink(c.latest_run.build, c.latest_run.job)),
          C.el("div", { class: "muted", text: "example" }), C.el("pre", { text: c.example }),
          C.el("div", { class: "muted" }, "tests: ", c.top_tests.map((t, i) =>
            [i ? ", " : "", C.testLink(t.test), ` (${t.failures})`])),
          c.suggested_fingerprint ? [C.el("div", { class: "muted" }, `suggested fingerprint — save as fingerprints/NEW-BUG.yaml `, copy), pre] : null);
      }));
    });
  },

  test(root) {
    const test = root.dataset.test;
    const job = root.dataset.job;
    C.load("test-history", `/api/tests/${C.enc(test)}${job ? `?job=${C.enc(job)}` : ""}`, (data) => {
      const chartBox = C.el("div", { class: "chart-box" }, C.el("canvas", { id: "test-chart", "aria-label": "pass and flake rate per day" }));
      const out = C.el("div", {},
        C.el("h2", { text: "Per job" }),
        C.table([
          { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
          { label: "runs", value: (r) => r.runs, num: true },
          { label: "passed", value: (r) => r.passed, num: true },
          { label: "failed", value: (r) => r.failed, num: true },
          { label: "flaked", value: (r) => r.flaked, num: true },
          { label: "skipped", value: (r) => r.skipped, num: true },
          { label: "pass rate", value: (r) => r.pass_rate, cell: (r) => C.pct(r.pass_rate), num: true },
          { label: "flake rate", value: (r) => r.flake_rate, cell: (r) => C.pct(r.flake_rate), num: true },
          { label: "last run", value: (r) => r.last_run, cell: (r) => C.time(r.last_run) },
        ], data.jobs),
        C.el("h2", { text: "Pass and flake rate per day" }), chartBox,
        C.el("h2", { text: `Runs (newest ${data.runs.length} of ${data.total_runs})` }),
        C.table([
          { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job) },
          { label: "build", value: (r) => r.build, cell: (r) => C.runLink(r.build, r.job) },
          { label: "started", value: (r) => r.started_at, cell: (r) => C.time(r.started_at) },
          { label: "verdict", value: (r) => r.verdict, cell: (r) => C.badge(r.verdict) },
          { label: "duration (s)", value: (r) => r.duration, cell: (r) => (r.duration === null ? "–" : r.duration.toFixed(1)), num: true },
          { label: "message", value: (r) => r.message, wrap: true },
        ], data.runs));
      requestAnimationFrame(() => drawTestChart(data));
      return out;
    });
  },
};

function fingerprintYaml(c) {
  // JSON strings are valid YAML double-quoted scalars; the regex goes in single quotes
  // (YAML escapes a single quote by doubling it, and nothing else).
  const title = c.example.split("\n")[0].slice(0, 100);
  return `# suggested from cluster ${c.id}: ${c.size} failures in ${c.runs} runs\n`
    + `title: ${JSON.stringify(title)}\n`
    + `url: https://bugs.example.com/CHANGE-ME\n`
    + `regex: '${String(c.suggested_fingerprint).replaceAll("'", "''")}'\n`;
}

function drawTestChart(data) {
  const canvas = document.getElementById("test-chart");
  if (!canvas || typeof Chart === "undefined") return;
  const days = [...new Set(data.days.map((d) => d.day))].sort();
  const jobs = [...new Set(data.days.map((d) => d.job))].sort();
  const datasets = [];
  jobs.forEach((job, i) => {
    const byDay = Object.fromEntries(data.days.filter((d) => d.job === job).map((d) => [d.day, d]));
    const color = COLORS[i % COLORS.length];
    datasets.push({ label: `pass rate · ${job}`, data: days.map((d) => (byDay[d] && byDay[d].runs ? byDay[d].pass_rate * 100 : null)),
      borderColor: color, backgroundColor: color, spanGaps: true, tension: 0.2, pointRadius: 2 });
    datasets.push({ label: `flake rate · ${job}`, data: days.map((d) => (byDay[d] && byDay[d].runs ? byDay[d].flake_rate * 100 : null)),
      borderColor: color, backgroundColor: color, borderDash: [5, 4], spanGaps: true, tension: 0.2, pointRadius: 2 });
  });
  new Chart(canvas, {
    type: "line",
    data: { labels: days, datasets },
    options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { y: { min: 0, max: 100, title: { display: true, text: "% of runs" } } },
      plugins: { legend: { labels: { boxWidth: 12 } } } },
  });
}

function drawBugChart(data) {
  const canvas = document.getElementById("bugs-chart");
  if (!canvas || typeof Chart === "undefined" || !data.length) return;
  const top = data.filter((b) => b.hourly.counts.some((n) => n)).slice(0, 6);
  const first = data[0].hourly;
  if (!first.start) return;
  const start = Date.parse(first.start.endsWith("Z") ? first.start : `${first.start}Z`);
  const labels = first.counts.map((_, i) => new Date(start + i * 3600e3).toISOString().slice(5, 13).replace("T", " ") + "h");
  new Chart(canvas, {
    type: "bar",
    data: { labels, datasets: top.map((b, i) => ({ label: b.bug, data: b.hourly.counts, backgroundColor: COLORS[i % COLORS.length] })) },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { stacked: true, ticks: { maxTicksLimit: 20 } },
      y: { stacked: true, title: { display: true, text: "failed runs per hour" } } } },
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("page");
  const init = root && pages[root.dataset.page];
  if (init) init(root);
});
