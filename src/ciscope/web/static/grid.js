// The job page's grid: tests × runs (newest left) in TestGrid's colours, drawn into one
// <canvas> the size of the visible area (only visible cells are drawn, so 300 runs × 3,000
// tests stays fast). Hover shows the cell's failure message; a click opens the run.
"use strict";

// TestGrid's cell colours per status code (pb/test_status; web/src/testgrid-grid-cell.ts).
const STATUS = [
  ["NO_RESULT", null], ["PASS", "#44dd77"], ["PASS_WITH_ERRORS", "#44dd77"], ["PASS_WITH_SKIPS", "#bbffdd"],
  ["RUNNING", "#ccccdd"], ["CATEGORIZED_ABORT", "#ccccdd"], ["UNKNOWN", "#ccccdd"], ["CANCEL", "#ccccdd"],
  ["BLOCKED", "#ccccdd"], ["TIMED_OUT", "#aa2244"], ["CATEGORIZED_FAIL", "#aa2244"], ["BUILD_FAIL", "#111111"],
  ["FAIL", "#aa2244"], ["FLAKY", "#6633aa"], ["TOOL_FAIL", "#cccccc"], ["BUILD_PASSED", "#bbffdd"],
];
const BAD = new Set([9, 10, 11, 12, 13, 14]);
const CELL_W = 12, CELL_H = 16, HEAD_H = 46, NAME_W = 440;

// The page's compact grid (/api/grid/JOB?format=page): run-length encoded cells, row after
// row, into one Uint8Array; messages only where there is one, keyed by row × columns + column.
function decodeGrid(data) {
  const width = data.builds.length;
  const cells = new Uint8Array(data.tests.length * width);
  let at = 0;
  for (let i = 0; i < data.values.length; i++) { cells.fill(data.values[i], at, at + data.lengths[i]); at += data.lengths[i]; }
  const messages = new Map();
  for (const [row, col, k] of data.messages) messages.set(row * width + col, data.texts[k]);
  const rows = data.tests.map((name, index) => {
    let bad = false;
    for (let c = index * width, end = c + width; c < end; c++) if (BAD.has(cells[c])) { bad = true; break; }
    return { name, index, bad };
  });
  return { cells, messages, rows, width };
}

function startGrid(root) {
  const job = root.dataset.job;
  const columns = root.dataset.columns;
  const scroll = document.getElementById("grid-scroll");
  const sizer = document.getElementById("grid-sizer");
  const canvas = document.getElementById("grid-canvas");
  const tip = document.getElementById("grid-tip");
  const info = document.getElementById("grid-info");
  const ctx = canvas.getContext("2d");
  const controls = {
    text: document.getElementById("grid-filter"), include: document.getElementById("grid-include"),
    exclude: document.getElementById("grid-exclude"), hide: document.getElementById("grid-hide-passing"),
    error: document.getElementById("grid-filter-error"),
  };
  let rows = [], shown = [], cols = [], table = null, cells = new Uint8Array(0), messages = new Map(), width = 0;
  const cell = (row, c) => cells[row.index * width + c];
  const message = (row, c) => messages.get(row.index * width + c) || "";

  function applyFilters() {
    controls.error.textContent = "";
    let include = null, exclude = null;
    try { include = controls.include.value ? new RegExp(controls.include.value, "i") : null; }
    catch (e) { controls.error.textContent = `include: ${e.message}`; }
    try { exclude = controls.exclude.value ? new RegExp(controls.exclude.value, "i") : null; }
    catch (e) { controls.error.textContent = `exclude: ${e.message}`; }
    const needle = controls.text.value.toLowerCase();
    shown = rows.filter((r, i) => i === 0 || ((!needle || r.name.toLowerCase().includes(needle))
      && (!include || include.test(r.name)) && (!exclude || !exclude.test(r.name))
      && (!controls.hide.checked || r.bad)));
    info.textContent = `${shown.length - 1} of ${rows.length - 1} tests × ${cols.length} runs (newest left)`;
    sizer.style.width = `${NAME_W + cols.length * CELL_W + 20}px`;
    sizer.style.height = `${HEAD_H + shown.length * CELL_H + 20}px`;
    draw();
  }

  function resize() {
    const ratio = window.devicePixelRatio || 1;
    canvas.width = scroll.clientWidth * ratio;
    canvas.height = scroll.clientHeight * ratio;
    canvas.style.width = `${scroll.clientWidth}px`;
    canvas.style.height = `${scroll.clientHeight}px`;
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    draw();
  }

  function draw() {
    const w = scroll.clientWidth, h = scroll.clientHeight;
    const x0 = scroll.scrollLeft, y0 = scroll.scrollTop;
    ctx.clearRect(0, 0, w, h);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, w, h);
    const firstCol = Math.floor(x0 / CELL_W), lastCol = Math.min(cols.length, Math.ceil((x0 + w - NAME_W) / CELL_W) + 1);
    const firstRow = Math.floor(y0 / CELL_H), lastRow = Math.min(shown.length, Math.ceil((y0 + h - HEAD_H) / CELL_H) + 1);
    for (let r = firstRow; r < lastRow; r++) {
      const row = shown[r], y = HEAD_H + r * CELL_H - y0;
      for (let c = firstCol; c < lastCol; c++) {
        const code = cell(row, c);
        const color = STATUS[code] ? STATUS[code][1] : "#cccccc";
        if (!color) continue;
        ctx.fillStyle = color;
        ctx.fillRect(NAME_W + c * CELL_W - x0, y, CELL_W - 1, CELL_H - 1);
      }
    }
    // names (fixed on the left) and the header (fixed on top) over the cells
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, NAME_W, h);
    ctx.font = "12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (let r = firstRow; r < lastRow; r++) {
      const y = HEAD_H + r * CELL_H - y0;
      ctx.fillStyle = r === 0 ? "#000" : "#223";
      ctx.fillText(fit(shown[r].name, NAME_W - 8), 4, y + CELL_H / 2);
    }
    ctx.fillStyle = "#f3f5fa";
    ctx.fillRect(0, 0, w, HEAD_H);
    ctx.fillStyle = "#334";
    ctx.fillText(fit(job, NAME_W - 8), 4, 14);
    ctx.fillStyle = "#667";
    ctx.fillText("newest →→ older", 4, 32);
    for (let c = firstCol; c < lastCol; c++) {
      if (c % 10 !== 0 || !cols[c].time) continue;
      const x = NAME_W + c * CELL_W - x0;
      ctx.fillStyle = "#667";
      ctx.fillRect(x, HEAD_H - 8, 1, 8);
      ctx.fillText(new Date(cols[c].time).toISOString().slice(5, 10), x + 2, HEAD_H - 14);
    }
  }

  const widths = new Map();
  function fit(text, max) {
    const key = text;
    if (widths.has(key)) return widths.get(key);
    let out = text;
    if (ctx.measureText(out).width > max) {
      let lo = 0, hi = text.length;
      while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (ctx.measureText(text.slice(0, mid) + "…").width <= max) lo = mid; else hi = mid - 1; }
      out = text.slice(0, lo) + "…";
    }
    widths.set(key, out);
    return out;
  }

  // (row, column) under a viewport point, or null.
  function cellAt(clientX, clientY) {
    const box = scroll.getBoundingClientRect();
    const x = clientX - box.left + scroll.scrollLeft - NAME_W, y = clientY - box.top + scroll.scrollTop - HEAD_H;
    if (clientX - box.left < NAME_W || clientY - box.top < HEAD_H || x < 0 || y < 0) return null;
    const c = Math.floor(x / CELL_W), r = Math.floor(y / CELL_H);
    return r < shown.length && c < cols.length ? { row: shown[r], col: c } : null;
  }

  scroll.addEventListener("scroll", () => requestAnimationFrame(draw));
  scroll.addEventListener("mousemove", (event) => {
    const hit = cellAt(event.clientX, event.clientY);
    if (!hit || !cell(hit.row, hit.col)) { tip.style.display = "none"; scroll.style.cursor = "default"; return; }
    const column = cols[hit.col];
    const status = (STATUS[cell(hit.row, hit.col)] || ["UNKNOWN"])[0];
    const text = message(hit.row, hit.col);
    tip.textContent = `${hit.row.name}\nrun ${column.build}${column.time ? ` · ${new Date(column.time).toISOString().slice(0, 16).replace("T", " ")}` : ""}`
      + `\n${status}${text ? `\n${text.slice(0, 600)}` : ""}`;
    tip.style.display = "block";
    tip.style.left = `${Math.min(event.clientX + 14, window.innerWidth - tip.offsetWidth - 8)}px`;
    tip.style.top = `${event.clientY + 14}px`;
    scroll.style.cursor = "pointer";
  });
  scroll.addEventListener("mouseleave", () => { tip.style.display = "none"; });
  scroll.addEventListener("click", (event) => {
    const hit = cellAt(event.clientX, event.clientY);
    if (!hit) return;
    window.location.href = `/runs/${encodeURIComponent(cols[hit.col].build)}?job=${encodeURIComponent(job)}`;
  });
  for (const input of [controls.text, controls.include, controls.exclude]) input.addEventListener("input", applyFilters);
  controls.hide.addEventListener("change", applyFilters);
  window.addEventListener("resize", resize);

  // For tests and scripts: where a (test, build) cell is, its status, the rows shown.
  window.ciscopeGrid = {
    shown: () => shown.map((r) => r.name),
    builds: () => cols.map((c) => c.build),
    draw,
    status(test, build) {
      const row = rows.find((r) => r.name === test), c = cols.findIndex((x) => x.build === build);
      return row && c >= 0 ? STATUS[cell(row, c)][0] : null;
    },
    cellCenter(test, build) {
      const r = shown.findIndex((x) => x.name === test), c = cols.findIndex((x) => x.build === build);
      if (r < 0 || c < 0) return null;
      scroll.scrollTop = Math.max(0, r * CELL_H - (scroll.clientHeight - HEAD_H) / 2);
      scroll.scrollLeft = Math.max(0, c * CELL_W - (scroll.clientWidth - NAME_W) / 2);
      draw();
      const box = scroll.getBoundingClientRect();
      return { x: box.left + NAME_W + c * CELL_W - scroll.scrollLeft + CELL_W / 2,
               y: box.top + HEAD_H + r * CELL_H - scroll.scrollTop + CELL_H / 2 };
    },
  };

  info.textContent = "loading the grid…";
  fetch(`/api/grid/${encodeURIComponent(job)}?columns=${encodeURIComponent(columns)}&format=page`, { headers: { Accept: "application/json" } })
    .then(async (answer) => {
      const body = await answer.json();
      if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
      return body;
    })
    .then((data) => {
      table = data;
      cols = data.builds.map((build, i) => ({ build, time: data.times[i], commit: data.commits[i] }));
      ({ cells, messages, rows, width } = decodeGrid(data));
      resize();
      applyFilters();
      root.dataset.ready = "true";
    })
    .catch((error) => { info.textContent = ""; controls.error.textContent = String(error.message || error); });
  return () => table;
}

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("page");
  if (root && root.dataset.page === "job") startGrid(root);
});
