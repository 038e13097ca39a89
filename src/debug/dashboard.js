// dashboard.js - the live dashboard's script (served by debug.c at /debug/dashboard/dashboard.js).
//
// Polls /debug/dashboard/samples?since=SEQ&since_gc=GC, appends what is new to the series, and
// redraws seven uPlot charts.  The server keeps the samples (taken when a page asks, at most ten
// a second), so a page opened late gets the history.  Rates are differences between consecutive
// samples.  For tests: each div.chart carries data-points (its number of x values), and
// window.tricolorDashboard.points() returns them by name.
"use strict";
(function () {
  const MAX_POINTS = 3600;
  const params = new URLSearchParams(location.search);
  let interval = parseInt(params.get("interval") || "1000", 10);
  if (!(interval >= 100)) interval = 1000;
  const sel = document.getElementById("interval");
  if (![...sel.options].some((o) => o.value == String(interval))) {
    const o = document.createElement("option");
    o.value = o.textContent = String(interval);
    o.textContent += " ms";
    sel.appendChild(o);
  }
  sel.value = String(interval);

  // ---- formatting
  function bytes(v) {
    if (v == null) return "";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    let x = Math.abs(v);
    while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
    return (v < 0 ? "-" : "") + (x >= 100 || i == 0 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2)) + " " + u[i];
  }
  const bytesRate = (v) => (v == null ? "" : bytes(v) + "/s");
  const percent = (v) => (v == null ? "" : v.toFixed(2) + " %");
  const perSec = (v) => (v == null ? "" : (v >= 100 ? v.toFixed(0) : v.toFixed(2)) + "/s");
  function micros(v) {
    if (v == null) return "";
    return v >= 1000 ? (v / 1000).toFixed(2) + " ms" : v.toFixed(0) + " µs";
  }
  // An axis as wide as its longest label.
  const fit = (u, values) => (values ? 16 + Math.max(3, ...values.map((v) => String(v).length)) * 8 : 50);
  const axisOf = (fmt) => ({ values: (u, vals) => vals.map(fmt), size: fit });

  // ---- series kept by the page
  const S = { t: [], heap: [], live: [], goal: [], limit: [], rss: [],
              rt: [], alloc: [], cpu: [], cpuAll: [], gcs: [], scav: [], released: [],
              pt: [], pause: [], csize: [], cobj: [] };
  let seq = 0, lastGC = 0, prev = null, ncpu = 1;

  const palette = ["#2a5db0", "#d9822b", "#3a9d5d", "#b03a2e", "#7d3cb5"];
  const line = (label, i, fmt, extra) =>
    Object.assign({ label, stroke: palette[i], width: 1.5, value: (u, v) => fmt(v) }, extra || {});

  const charts = {};
  // Every y scale starts at zero, so that a rate or a pause is read against nothing, not against
  // the smallest value on the screen.
  const fromZero = { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] };
  function make(name, series, axes, data, opts) {
    const el = document.getElementById("chart-" + name);
    opts = opts || {};
    const scales = Object.assign({ y: fromZero }, opts.scales || {});
    const o = Object.assign({ width: Math.max(el.clientWidth, 300), height: 230, series, axes,
                              legend: { live: true } }, opts, { scales });
    charts[name] = { plot: new uPlot(o, data(), el), data, el };
  }

  make("heap", [{}, line("in use", 0, bytes), line("live", 2, bytes), line("goal", 1, bytes),
                line("limit", 3, bytes, { dash: [6, 4] }), line("RSS", 4, bytes)],
       [{}, axisOf(bytes)], () => [S.t, S.heap, S.live, S.goal, S.limit, S.rss]);
  make("alloc", [{}, line("allocated", 0, bytesRate, { fill: "rgba(42,93,176,0.1)" })],
       [{}, axisOf(bytesRate)], () => [S.rt, S.alloc]);
  make("pauses", [{}, line("pause", 3, micros, { paths: () => null,
                                                  points: { show: true, size: 5, fill: palette[3] } })],
       [{}, axisOf(micros)], () => [S.pt, S.pause]);
  make("cpu", [{}, line("this interval", 1, percent), line("since start-up", 0, percent)],
       [{}, axisOf(percent)], () => [S.rt, S.cpu, S.cpuAll]);
  make("gcs", [{}, line("collections", 2, perSec, { fill: "rgba(58,157,93,0.1)" })],
       [{}, axisOf(perSec)], () => [S.rt, S.gcs]);
  make("scav", [{}, line("returned", 1, bytesRate), line("released now", 0, bytes, { scale: "b" })],
       [{}, axisOf(bytesRate), Object.assign(axisOf(bytes), { side: 1, scale: "b", grid: { show: false } })],
       () => [S.rt, S.scav, S.released], { scales: { b: fromZero } });
  make("classes", [{ label: "size", value: (u, v) => classLabel(v) },
                   line("objects", 0, (v) => (v == null ? "" : String(v)),
                        { fill: "rgba(42,93,176,0.5)", paths: uPlot.paths.bars({ size: [0.8] }) })],
       [{ values: (u, vals) => vals.map(classLabel), space: 64 }, { size: fit }],
       () => [S.csize, S.cobj], { scales: { x: { time: false } } });

  function classLabel(i) {
    if (i == null || S.csizeBytes == null) return "";
    const s = S.csizeBytes[Math.round(i)];
    return s === undefined ? "" : s === 0 ? "large" : bytes(s);
  }

  function trim(keys, max) {
    for (const k of keys) if (S[k].length > max) S[k].splice(0, S[k].length - max);
  }

  // ---- a response
  function absorb(r) {
    ncpu = r.ncpu || 1;
    const f = {};
    r.fields.forEach((n, i) => (f[n] = i));
    for (const row of r.samples) {
      const t = row[f.t] / 1000;
      const limit = row[f.memory_limit];
      S.t.push(t);
      S.heap.push(row[f.heap_alloc]);
      S.live.push(row[f.heap_live]);
      S.goal.push(row[f.next_gc]);
      // No limit, or one so far above the heap that it would flatten the rest: not drawn.
      S.limit.push(limit < 0 || limit > 8 * Math.max(row[f.rss], row[f.next_gc], 1) ? null : limit);
      S.rss.push(row[f.rss]);
      const up = row[f.uptime_ns];
      if (prev) {
        const dt = (up - prev[f.uptime_ns]) / 1e9;
        if (dt > 0) {
          S.rt.push(t);
          S.alloc.push((row[f.total_alloc] - prev[f.total_alloc]) / dt);
          S.cpu.push(100 * (row[f.gc_cpu_ns] - prev[f.gc_cpu_ns]) / (dt * 1e9 * ncpu));
          S.cpuAll.push(up > 0 ? 100 * row[f.gc_cpu_ns] / (up * ncpu) : 0);
          S.gcs.push((row[f.num_gc] - prev[f.num_gc]) / dt);
          S.scav.push((row[f.scavenged] - prev[f.scavenged]) / dt);
          S.released.push(row[f.heap_released]);
        }
      }
      prev = row;
      seq = Math.max(seq, r.seq);
    }
    for (const p of r.pauses) {
      S.pt.push(p[1] / 1000);
      S.pause.push(p[2] / 1000);
      lastGC = Math.max(lastGC, p[0]);
    }
    S.csizeBytes = r.classes.size;
    S.csize = r.classes.size.map((_, i) => i);
    S.cobj = r.classes.objects;
    trim(["t", "heap", "live", "goal", "limit", "rss"], MAX_POINTS);
    trim(["rt", "alloc", "cpu", "cpuAll", "gcs", "scav", "released"], MAX_POINTS);
    trim(["pt", "pause"], 4 * MAX_POINTS);
    for (const name in charts) {
      const c = charts[name];
      const d = c.data();
      c.plot.setData(d);
      c.el.dataset.points = String(d[0].length);
    }
    const last = r.samples.length ? r.samples[r.samples.length - 1] : prev;
    if (last)
      status("up " + (last[f.uptime_ns] / 1e9).toFixed(0) + " s, " + last[f.num_gc] + " collections, " +
             bytes(last[f.heap_alloc]) + " in use, " + bytes(last[f.heap_live]) + " live" +
             (r.lost_pauses ? ", " + r.lost_pauses + " pauses not seen" : ""), false);
  }

  function status(text, error) {
    const el = document.getElementById("status");
    el.textContent = text;
    el.className = error ? "error" : "";
  }

  let timer = null;
  async function poll() {
    timer = null;
    try {
      const res = await fetch("/debug/dashboard/samples?since=" + seq + "&since_gc=" + lastGC,
                              { cache: "no-store" });
      if (!res.ok) throw new Error("HTTP " + res.status);
      absorb(await res.json());
    } catch (e) {
      status("no answer from the program (" + e.message + "); retrying", true);
    }
    timer = setTimeout(poll, interval);
  }

  sel.addEventListener("change", () => {
    interval = parseInt(sel.value, 10);
    if (timer) { clearTimeout(timer); poll(); }
  });
  window.addEventListener("resize", () => {
    for (const name in charts) {
      const c = charts[name];
      c.plot.setSize({ width: Math.max(c.el.clientWidth, 300), height: 230 });
    }
  });
  fetch("/debug/pprof/cmdline").then((r) => r.text()).then((t) => {
    document.getElementById("cmdline").textContent = t.split("\0").join(" ");
  }).catch(() => {});

  window.tricolorDashboard = {
    points() {
      const out = {};
      for (const name in charts) out[name] = charts[name].data()[0].length;
      return out;
    },
    charts,
  };
  poll();
})();
