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

  disruption() {
    const params = formQuery("disruption-filters", ["job", "days", "branch", "limit"]);
    if (!params.has("limit")) params.set("limit", "40");
    const kind = formQuery("disruption-filters", ["kind"]).get("kind") || "disruption";
    const charts = document.getElementById("disruption-charts");
    charts.replaceChildren(C.el("p", { class: "loading", text: "loading…" }));
    Promise.all([
      C.load("disruption-runs", `/api/disruption/runs?${params}`, (runs) => C.table(disruptionRunColumns, runs,
        { empty: "no run with disruption data in this window" })),
      C.get("/api/disruption/baselines").catch(() => []),
    ]).then(([runs, baselines]) => {
      if (runs) drawDisruptionCharts(charts, runs, baselines);
      else charts.replaceChildren();
    });
    C.load("disruption-baselines", `/api/disruption/baselines?kind=${C.enc(kind)}`, (rows) => C.table([
      { label: kind === "alerts" ? "alert" : "backend", value: (r) => r.backend || r.alert, wrap: true },
      ...(kind === "alerts" ? [{ label: "namespace", value: (r) => r.namespace }, { label: "level", value: (r) => r.level }] : []),
      { label: "release", value: (r) => r.release },
      { label: "from", value: (r) => r.from_release },
      { label: "platform", value: (r) => r.platform },
      { label: "arch", value: (r) => r.architecture },
      { label: "network", value: (r) => r.network },
      { label: "topology", value: (r) => r.topology },
      { label: "runs", value: (r) => r.job_runs, num: true },
      { label: "P50", value: (r) => r.p50, cell: (r) => num(r.p50), num: true },
      { label: "P95", value: (r) => r.p95, cell: (r) => num(r.p95), num: true },
      { label: "P99", value: (r) => r.p99, cell: (r) => num(r.p99), num: true },
      { label: "mean", value: (r) => r.mean, cell: (r) => num(r.mean), num: true },
    ], rows, { empty: "no baselines: no run with disruption data in the window" }));
  },

  timing() {
    const params = formQuery("timing-filters", ["job", "days", "branch", "by"]);
    const newest = Number(formQuery("timing-filters", ["newest"]).get("newest") || 30);
    const runsParams = new URLSearchParams(params);
    runsParams.delete("by");
    runsParams.set("newest", String(Math.max(newest, 500)));
    C.get(`/api/timing/runs?${runsParams}`).then((data) => {
      document.getElementById("timing-chart-note").textContent = data.runs.length
        ? `bars: the newest ${Math.min(newest, data.runs.length)} runs; trends: the newest ${data.runs.length} runs with events`
        : "no runs with lifecycle events in this window";
      drawTimingBars(data, newest);
      drawTimingTrends(data);
    }).catch((error) => { document.getElementById("timing-chart-note").replaceChildren(C.el("span", { class: "error", text: String(error.message || error) })); });
    const by = params.get("by") || "job";
    C.load("timing-stats", `/api/timing?${params}`, (report) => {
      document.getElementById("timing-groups").replaceChildren(C.table([
        { label: by, value: (g) => g.group, wrap: true },
        { label: "runs", value: (g) => g.runs, num: true },
        { label: "ongoing", value: (g) => g.ongoing, num: true },
        { label: "queued", value: (g) => g.queued, num: true },
        { label: "errored", value: (g) => g.errored, num: true },
        { label: "error share", value: (g) => g.error_share, cell: (g) => C.pct(g.error_share), num: true },
        { label: "failed", value: (g) => g.failed, num: true },
        { label: "stalled", value: (g) => g.stalled, num: true },
        { label: "requestors", value: (g) => g.requestors.length, cell: (g) => g.requestors.slice(0, 3).map((r) => `${r.name} (${r.requests})`).join(", ") || "–", wrap: true },
      ], report.groups, { empty: "no runs with lifecycle events in this window" }));
      return C.table([
        { label: by, value: (r) => r.group, wrap: true },
        { label: "phase", value: (r) => r.phase },
        { label: "count", value: (r) => r.count, num: true },
        { label: "min", value: (r) => r.min, cell: (r) => num(r.min), num: true },
        { label: "p50", value: (r) => r.p50, cell: (r) => num(r.p50), num: true },
        { label: "p90", value: (r) => r.p90, cell: (r) => num(r.p90), num: true },
        { label: "p99", value: (r) => r.p99, cell: (r) => num(r.p99), num: true },
        { label: "max", value: (r) => r.max, cell: (r) => num(r.max), num: true },
        { label: "mean", value: (r) => r.mean, cell: (r) => num(r.mean), num: true },
        { label: "std", value: (r) => r.std, cell: (r) => num(r.std), num: true },
        { label: "missing", value: (r) => r.missing, num: true },
        { label: "out of order", value: (r) => r.out_of_order, num: true },
        { label: "open", value: (r) => r.open, num: true },
      ], report.phases, { empty: "no runs with lifecycle events in this window" });
    });
    C.load("timing-thresholds", `/api/timing/thresholds?${params}`, (report) => C.el("div", {},
      C.el("p", { class: "muted", text: `P${report.rule.quantile * 100} × ${report.rule.factor} of the durations of the last ${report.rule.days} days, with at least ${report.rule.min_samples} samples` }),
      C.table([
        { label: by, value: (t) => t.group, wrap: true },
        { label: "phase", value: (t) => t.phase },
        { label: "threshold (s)", value: (t) => t.threshold, cell: (t) => num(t.threshold), num: true },
        { label: "quantile (s)", value: (t) => t.quantile_value, cell: (t) => num(t.quantile_value), num: true },
        { label: "samples", value: (t) => t.samples, num: true },
        { label: "basis", value: (t) => t.basis },
      ], report.thresholds, { empty: "no thresholds" })));
    C.load("timing-outliers", `/api/timing/outliers?${params}`, (report) => C.el("div", {},
      C.table([
        { label: "job", value: (o) => o.job, cell: (o) => C.jobLink(o.job), wrap: true },
        { label: "build", value: (o) => o.build, cell: (o) => C.runLink(o.build, o.job) },
        { label: "worker", value: (o) => o.worker || "" },
        { label: "phase", value: (o) => o.phase },
        { label: "state", value: (o) => o.state },
        { label: "seconds", value: (o) => o.seconds, cell: (o) => num(o.seconds), num: true },
        { label: "threshold", value: (o) => o.threshold, cell: (o) => num(o.threshold), num: true },
        { label: "ratio", value: (o) => o.ratio, cell: (o) => num(o.ratio, 2), num: true },
        { label: "stalled", value: (o) => (o.stalled ? "yes" : "") },
      ], report.outliers, { empty: "no phase over its threshold", sort: 7, desc: true }),
      C.el("h3", { text: "Workers with outliers or stalls" }),
      C.table([
        { label: "worker", value: (w) => w.worker, wrap: true },
        { label: "runs", value: (w) => w.runs, num: true },
        { label: "outlier runs", value: (w) => w.outlier_runs, num: true },
        { label: "share", value: (w) => w.share, cell: (w) => C.pct(w.share), num: true },
        { label: "stopped for slowness", value: (w) => w.stalled, num: true },
      ], report.workers, { empty: "none", sort: 3, desc: true })));
  },

  run(root) {
    const job = root.dataset.job, build = root.dataset.build, started = root.dataset.started;
    if (document.getElementById("run-disruption")) {
      C.load("run-disruption", `/api/disruption/check/${C.enc(build)}?job=${C.enc(job)}`, (r) => C.el("div", {},
        C.el("p", {}, "Verdict: ", verdictCell(r.verdict),
          ` (${r.job_type.release}${r.job_type.from_release ? ` from ${r.job_type.from_release}` : ""}, ${r.job_type.platform || "?"}/${r.job_type.architecture}/${r.job_type.network}/${r.job_type.topology})`),
        C.table([
          { label: "backend", value: (v) => v.backend, wrap: true },
          { label: "connection", value: (v) => v.connection_type },
          { label: "observed s", value: (v) => v.observed_seconds, num: true },
          { label: "allowed s", value: (v) => v.allowed_seconds, cell: (v) => (v.allowed_seconds === null ? "–" : v.allowed_seconds), num: true },
          { label: "verdict", value: (v) => v.verdict, cell: (v) => verdictCell(v.verdict) },
          { label: "history", value: (v) => (v.baseline ? `${v.match}: P99 ${v.baseline.p99} s over ${v.baseline.job_runs} runs` : v.reason), wrap: true },
        ], r.backends, { empty: "no backends" }),
        r.alerts.length ? C.table([
          { label: "alert", value: (a) => a.alert, wrap: true },
          { label: "namespace", value: (a) => a.namespace },
          { label: "level", value: (a) => a.level },
          { label: "observed s", value: (a) => a.observed_seconds, num: true },
          { label: "flake after", value: (a) => a.flake_after, cell: (a) => num(a.flake_after), num: true },
          { label: "fail after", value: (a) => a.fail_after, cell: (a) => num(a.fail_after), num: true },
          { label: "verdict", value: (a) => a.verdict, cell: (a) => verdictCell(a.verdict) },
        ], r.alerts) : null));
    }
    if (document.getElementById("run-timing") && started) {
      const since = new Date(Date.parse(started));
      const until = new Date(since.getTime() + 1000);
      const scope = `job=${C.enc(job)}&since=${C.enc(since.toISOString())}&until=${C.enc(until.toISOString())}`;
      C.load("run-timing", `/api/timing/runs?${scope}&newest=0`, (data) => {
        const mine = data.runs.find((r) => r.label === `${job} #${build}`);
        if (!mine) return C.el("p", { class: "muted", text: "no phases measured for this run" });
        const box = C.el("div", {}, C.el("p", { class: "loading", text: "loading the thresholds…" }));
        C.get(`/api/timing/thresholds?job=${C.enc(job)}`).then((limits) => {
          const threshold = Object.fromEntries(limits.thresholds.filter((t) => t.group === job).map((t) => [t.phase, t]));
          box.replaceChildren(C.table([
            { label: "phase", value: (p) => p },
            { label: "seconds", value: (p) => mine.phases[p], cell: (p) => num(mine.phases[p]), num: true },
            { label: "stall threshold", value: (p) => (threshold[p] || {}).threshold ?? null, cell: (p) => num((threshold[p] || {}).threshold), num: true },
            { label: "verdict", value: (p) => p, cell: (p) => {
              const t = (threshold[p] || {}).threshold, s = mine.phases[p];
              if (s === null || s === undefined) return C.el("span", { class: "muted", text: "not measured" });
              if (t === null || t === undefined) return C.el("span", { class: "muted", text: "no threshold" });
              return s > t ? C.el("span", { class: "badge failed", text: "over" }) : C.el("span", { class: "badge passed", text: "within" });
            } },
          ], data.phases));
        }).catch((error) => box.replaceChildren(C.el("p", { class: "error", text: String(error.message || error) })));
        return box;
      });
    }
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

// The query of a filter form: its non-empty fields, only those `names`.
function formQuery(id, names) {
  const form = document.getElementById(id);
  const params = new URLSearchParams();
  if (!form) return params;
  for (const [key, value] of new FormData(form)) if (names.includes(key) && String(value).trim()) params.set(key, String(value).trim());
  return params;
}

const num = (v, digits = 1) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
const PHASE_COLORS = { queue: "#7f8c8d", provision: "#2457c5", boot: "#d35400", test: "#27ae60", publish: "#8e44ad" };
const phaseColor = (name, i) => PHASE_COLORS[name] || COLORS[i % COLORS.length];
const jobType = (t) => [t.release, t.from_release, t.platform, t.architecture, t.network, t.topology].join("|");

function verdictCell(v) {
  const style = { pass: "passed", fail: "failed", flake: "flaky", skipped: "skipped" }[v] || "";
  return C.el("span", { class: `badge ${style}`, text: v });
}

// One small line chart per backend: its observed seconds in each run (oldest left) against
// P95 / P99 of the history the verdict used, else of the job type's baseline now, and the
// allowed seconds when there was a verdict.
function drawDisruptionCharts(box, runs, baselines) {
  if (typeof Chart === "undefined") return;
  const now = {};
  for (const b of baselines) {
    const key = `${b.backend}|${jobType(b)}`;
    if (!now[key] || (b.job_runs || 0) > (now[key].job_runs || 0)) now[key] = b;
  }
  const ordered = [...runs].reverse();
  const backends = [...new Set(ordered.flatMap((r) => r.backends.map((v) => v.backend)))].sort();
  box.replaceChildren();
  backends.forEach((backend, n) => {
    const canvas = C.el("canvas", { id: `disruption-chart-${n}`, "aria-label": `disruption of ${backend}` });
    box.append(C.el("div", { class: "chart-cell" }, C.el("h3", { text: backend }), C.el("div", { class: "chart-box small" }, canvas)));
    const points = ordered.map((r) => {
      const v = r.backends.find((x) => x.backend === backend);
      if (!v) return null;
      const base = v.baseline || now[`${backend}|${jobType(r.job_type)}`] || null;
      return { v, base, used: !!v.baseline };
    });
    const series = (f) => points.map((p) => (p ? f(p) : null));
    new Chart(canvas, {
      type: "line",
      data: {
        labels: ordered.map((r) => r.build),
        datasets: [
          { label: "observed s", data: series((p) => p.v.observed_seconds), borderColor: "#c0392b", backgroundColor: "#c0392b",
            pointRadius: series((p) => (p.v.verdict === "fail" ? 5 : 2)), spanGaps: false },
          { label: "P95 baseline", data: series((p) => (p.base ? p.base.p95 : null)), borderColor: "#2457c5", backgroundColor: "#2457c5",
            borderDash: [5, 4], pointRadius: 0, spanGaps: true },
          { label: "P99 baseline", data: series((p) => (p.base ? p.base.p99 : null)), borderColor: "#16a085", backgroundColor: "#16a085",
            borderDash: [2, 3], pointRadius: 0, spanGaps: true },
          { label: "allowed s", data: series((p) => p.v.allowed_seconds), borderColor: "#7f8c8d", backgroundColor: "#7f8c8d",
            pointRadius: 0, spanGaps: true },
        ],
      },
      options: { animation: false, maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
        scales: { x: { ticks: { display: false } }, y: { min: 0, title: { display: true, text: "seconds" } } },
        plugins: { legend: { labels: { boxWidth: 10, font: { size: 11 } } },
          tooltip: { callbacks: { title: (items) => { const r = ordered[items[0].dataIndex]; return `${r.job} ${r.build}`; },
            afterBody: (items) => { const p = points[items[0].dataIndex]; return p ? `${p.v.verdict}${p.used ? "" : p.base ? " (baseline: the job type's now)" : ""}${p.v.reason ? `: ${p.v.reason}` : ""}` : ""; } } } } },
    });
  });
  if (!backends.length) box.append(C.el("p", { class: "muted", text: "no disruption data in this window" }));
  const types = new Set(runs.map((r) => jobType(r.job_type))).size;
  const note = document.getElementById("disruption-chart-note");
  if (note) note.textContent = types > 1 ? `These runs are of ${types} job types: each point's baselines are its own job type's, so the lines jump between them; choose a job to see one job type.` : "";
}

const disruptionRunColumns = [
  { label: "job", value: (r) => r.job, cell: (r) => C.jobLink(r.job), wrap: true },
  { label: "build", value: (r) => r.build, cell: (r) => C.runLink(r.build, r.job) },
  { label: "verdict", value: (r) => r.verdict, cell: (r) => verdictCell(r.verdict) },
  { label: "job type", value: (r) => jobType(r.job_type), cell: (r) => `${r.job_type.release}${r.job_type.from_release ? ` from ${r.job_type.from_release}` : ""} ${r.job_type.platform || "?"}/${r.job_type.architecture}/${r.job_type.network}/${r.job_type.topology}` },
  { label: "worst backend", value: (r) => Math.max(0, ...r.backends.map((v) => v.observed_seconds)),
    cell: (r) => { const v = [...r.backends].sort((a, b) => b.observed_seconds - a.observed_seconds)[0]; return v ? `${v.backend}: ${v.observed_seconds} s${v.allowed_seconds !== null ? ` of ${v.allowed_seconds}` : ""}` : "–"; }, num: true },
  { label: "backends failed", value: (r) => r.backends.filter((v) => v.verdict === "fail").length, num: true },
  { label: "skipped", value: (r) => r.backends.filter((v) => v.verdict === "skipped").length, num: true },
  { label: "alerts failed / flaked", value: (r) => r.alerts.filter((a) => a.verdict === "fail" || a.verdict === "flake").length,
    cell: (r) => r.alerts.filter((a) => a.verdict === "fail" || a.verdict === "flake").map((a) => `${a.alert} ${a.verdict}`).join(", ") || "–", wrap: true },
];

function drawTimingBars(data, newest) {
  const canvas = document.getElementById("timing-bars");
  if (!canvas || typeof Chart === "undefined") return;
  const phases = data.phases.filter((p) => p !== "total");
  const runs = data.runs.slice(-newest).reverse();  // newest on top
  canvas.parentElement.style.height = `${Math.max(160, 40 + runs.length * 18)}px`;
  new Chart(canvas, {
    type: "bar",
    data: { labels: runs.map((r) => r.label),
      datasets: phases.map((p, i) => ({ label: p, data: runs.map((r) => r.phases[p]), backgroundColor: phaseColor(p, i) })) },
    options: { indexAxis: "y", animation: false, maintainAspectRatio: false,
      scales: { x: { stacked: true, title: { display: true, text: "seconds" } }, y: { stacked: true, ticks: { font: { size: 10 } } } },
      plugins: { legend: { labels: { boxWidth: 12 } } } },
  });
}

function drawTimingTrends(data) {
  const canvas = document.getElementById("timing-trends");
  if (!canvas || typeof Chart === "undefined") return;
  const runs = data.runs.filter((r) => r.started);
  const at = (r) => Date.parse(r.started);
  const phases = data.phases.filter((p) => p !== "total");
  new Chart(canvas, {
    type: "line",
    data: { datasets: phases.map((p, i) => ({ label: p, borderColor: phaseColor(p, i), backgroundColor: phaseColor(p, i),
      data: runs.filter((r) => r.phases[p] !== null).map((r) => ({ x: at(r), y: r.phases[p] })), showLine: false, pointRadius: 2 })) },
    options: { animation: false, maintainAspectRatio: false, parsing: false,
      scales: { x: { type: "linear", ticks: { callback: (v) => new Date(v).toISOString().slice(5, 16).replace("T", " ") } },
        y: { min: 0, title: { display: true, text: "seconds" } } },
      plugins: { legend: { labels: { boxWidth: 12 } },
        tooltip: { callbacks: { title: (items) => new Date(items[0].parsed.x).toISOString().slice(0, 16).replace("T", " ") } } } },
  });
}

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
