#!/usr/bin/env python3
"""plot_pauses.py - draw the pause benchmark's gap distributions as SVG.

    python3 bench/plot_pauses.py [--runs bench/out/runs] [--raw bench/out/raw.tsv]
                                 [--svg bench/pauses.svg] [--hist bench/out/pause_hist.tsv]
                                 [--args "3000000 20"]

Reads the output of every pause run (runs/pause_<system>_<round>.out: the
PAUSE, PAUSEGC and PAUSEHIST lines written by pause.c and go/pause.go), keeps
the runs that raw.tsv lists as successful (all runs when there is no raw.tsv),
adds up each system's rounds and writes

  --svg   one panel per system side by side: histogram of the gaps (log time
          axis, log count axis), the collector's own pauses as ticks under the
          axis, the longest gap marked; below, for all systems together, the
          share of gaps at least x long (CCDF) and the share of the measured
          time spent in gaps at least x long;
  --hist  every run's histograms as a table: system, round, kind (fine: the
          6%-wide buckets; coarse: the hist= buckets of the PAUSE line;
          gcpause: one collector pause, lo_ns = hi_ns = its length), lo_ns,
          hi_ns, count.

Python 3 standard library only; the SVG is written by hand.
"""
import argparse
import math
import os
import re
import sys
from xml.sax.saxutils import escape

ORDER = ["tricolor", "tricolor-stw", "bdwgc", "go", "malloc", "mimalloc"]
COLORS = {
    "tricolor": "#1f5fbf",
    "tricolor-stw": "#7fa8e0",
    "bdwgc": "#e07b00",
    "go": "#2a9d3a",
    "malloc": "#7a7a7a",
    "mimalloc": "#8e5cc4",
}
EXTRA_COLORS = ["#c0392b", "#16a0a0", "#a0522d"]
BINS_PER_OCTAVE = 4
FONT = "font-family=\"DejaVu Sans, Arial, Helvetica, sans-serif\""


# ---------------------------------------------------------------------------
# Input

def parse_kv(line):
    out = {}
    for tok in line.split()[1:]:
        if "=" in tok:
            k, v = tok.split("=", 1)
            out[k] = v
    return out


def parse_run(path):
    """The numbers of one run, or None when it has no PAUSE line."""
    pause = gcp = fine = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("PAUSE "):
                pause = parse_kv(line)
            elif line.startswith("PAUSEGC"):
                gcp = line[len("PAUSEGC"):].strip()
            elif line.startswith("PAUSEHIST"):
                fine = line[len("PAUSEHIST"):].strip()
    if pause is None or fine is None:
        return None
    run = {
        "maxgap": int(pause.get("maxgap_ns", "0")),
        "p99": int(pause.get("p99_ns", "0")),
        "p999": int(pause.get("p999_ns", "0")),
        "rate": float(pause.get("rate", "0")),
        "seconds": float(pause.get("seconds", "0")),
        "gcs": int(pause.get("gcs", "0")),
        "gcmax": int(pause.get("gc_maxpause_ns", "0")),
        "coarse": [],
        "fine": [],
        "gcpauses": [],
    }
    prev_edge = 0
    for item in pause.get("hist", "").split(","):
        if ":" not in item:
            continue
        edge, count = item.split(":", 1)
        hi = None if edge == "inf" else int(edge) * 1000
        run["coarse"].append((prev_edge, hi, int(count)))
        prev_edge = hi
    for item in fine.split(","):
        parts = item.split(":")
        if len(parts) == 3:
            run["fine"].append((int(parts[0]), int(parts[1]), int(parts[2])))
    if gcp:
        run["gcpauses"] = [int(x) for x in gcp.split(",") if x.strip()]
    return run


def successful_runs(raw_path):
    """{(system, round)} of the pause runs raw.tsv marks as successful, or None."""
    if not raw_path or not os.path.exists(raw_path):
        return None
    ok = set()
    with open(raw_path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        idx = {name: i for i, name in enumerate(header)}
        for line in f:
            cols = line.rstrip("\n").split("\t")
            if len(cols) < len(header) or cols[idx["bench"]] != "pause":
                continue
            if cols[idx["status"]] == "0":
                ok.add((cols[idx["system"]], cols[idx["round"]]))
    return ok


def load(runs_dir, raw_path):
    keep = successful_runs(raw_path)
    runs = {}  # system -> [(round, run)]
    pattern = re.compile(r"^pause_(.+)_(\d+)\.out$")
    for name in sorted(os.listdir(runs_dir)):
        m = pattern.match(name)
        if not m:
            continue
        system, rnd = m.group(1), m.group(2)
        if keep is not None and (system, rnd) not in keep:
            continue
        run = parse_run(os.path.join(runs_dir, name))
        if run is not None:
            runs.setdefault(system, []).append((int(rnd), run))
    for system in runs:
        runs[system].sort(key=lambda x: x[0])
    return runs


def system_order(systems):
    known = [s for s in ORDER if s in systems]
    return known + sorted(s for s in systems if s not in ORDER)


def color_of(system, i):
    return COLORS.get(system, EXTRA_COLORS[i % len(EXTRA_COLORS)])


def median(values):
    v = sorted(values)
    n = len(v)
    if n == 0:
        return 0
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def write_hist_tsv(path, runs):
    with open(path, "w", encoding="utf-8") as f:
        f.write("system\tround\tkind\tlo_ns\thi_ns\tcount\n")
        for system in system_order(runs):
            for rnd, run in runs[system]:
                for lo, hi, c in run["fine"]:
                    f.write(f"{system}\t{rnd}\tfine\t{lo}\t{hi}\t{c}\n")
                for lo, hi, c in run["coarse"]:
                    f.write(f"{system}\t{rnd}\tcoarse\t{lo}\t{'inf' if hi is None else hi}\t{c}\n")
                for p in run["gcpauses"]:
                    f.write(f"{system}\t{rnd}\tgcpause\t{p}\t{p}\t1\n")


# ---------------------------------------------------------------------------
# Aggregation

def summed_fine(rounds):
    """The fine buckets of all rounds added up: sorted [(lo, hi, count)]."""
    acc = {}
    for _, run in rounds:
        for lo, hi, c in run["fine"]:
            key = (lo, hi)
            acc[key] = acc.get(key, 0) + c
    return sorted((lo, hi, c) for (lo, hi), c in acc.items())


def rebin(fine):
    """Fine buckets into BINS_PER_OCTAVE equal log bins, each fine bucket going
    to the bin holding its geometric middle: {bin index: count}."""
    bins = {}
    for lo, hi, c in fine:
        mid = math.sqrt(max(lo, 1) * max(hi, 1))
        b = math.floor(math.log2(mid) * BINS_PER_OCTAVE)
        bins[b] = bins.get(b, 0) + c
    return bins


def bin_edges(b):
    return 2 ** (b / BINS_PER_OCTAVE), 2 ** ((b + 1) / BINS_PER_OCTAVE)


# ---------------------------------------------------------------------------
# SVG helpers

class Svg:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", weight="normal", color="#222", rotate=None, italic=False):
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        style = ' font-style="italic"' if italic else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
                 f'font-weight="{weight}" fill="{color}"{style}{tr}>{escape(s)}</text>')

    def line(self, x1, y1, x2, y2, color="#222", width=1.0, dash=None, opacity=1.0):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        o = f' stroke-opacity="{opacity}"' if opacity < 1 else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{color}" '
                 f'stroke-width="{width}"{d}{o}/>')

    def rect(self, x, y, w, h, fill="none", stroke="none", opacity=1.0, sw=1.0):
        o = f' fill-opacity="{opacity}"' if opacity < 1 else ""
        self.add(f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" '
                 f'fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{o}/>')

    def polyline(self, pts, color, width=1.8, dash=None):
        if len(pts) < 2:
            return
        d = f' stroke-dasharray="{dash}"' if dash else ""
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="{width}" '
                 f'stroke-linejoin="round"{d}/>')

    def render(self):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.w}" height="{self.h}" '
                f'viewBox="0 0 {self.w} {self.h}" {FONT}>\n'
                f'<rect x="0" y="0" width="{self.w}" height="{self.h}" fill="white"/>\n')
        return head + "\n".join(self.parts) + "\n</svg>\n"


def fmt_ns(ns):
    """A duration for a label: 850 ns, 12 µs, 3.4 ms, 1.2 s."""
    if ns >= 1e9:
        v, unit = ns / 1e9, "s"
    elif ns >= 1e6:
        v, unit = ns / 1e6, "ms"
    elif ns >= 1e3:
        v, unit = ns / 1e3, "µs"
    else:
        v, unit = ns, "ns"
    if v >= 100:
        return f"{v:.0f} {unit}"
    if v >= 10:
        return f"{v:.1f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{v:.2f}".rstrip("0").rstrip(".") + f" {unit}"


def fmt_pow10_ns(e):
    """Label of 10^e nanoseconds."""
    names = {0: "1 ns", 1: "10 ns", 2: "100 ns", 3: "1 µs", 4: "10 µs", 5: "100 µs", 6: "1 ms",
             7: "10 ms", 8: "100 ms", 9: "1 s", 10: "10 s", 11: "100 s"}
    return names.get(e, f"1e{e} ns")


def fmt_count(e):
    return {0: "1", 1: "10", 2: "100", 3: "1k", 4: "10k", 5: "100k", 6: "1M", 7: "10M", 8: "100M"}.get(e, f"1e{e}")


class LogAxis:
    """Maps values on a log10 scale onto [p0, p1] pixels."""

    def __init__(self, lo, hi, p0, p1):
        self.l0, self.l1 = math.log10(lo), math.log10(hi)
        self.p0, self.p1 = p0, p1

    def __call__(self, v):
        v = max(v, 1e-300)
        t = (math.log10(v) - self.l0) / (self.l1 - self.l0)
        return self.p0 + t * (self.p1 - self.p0)


def x_axis(svg, ax, y, e_lo, e_hi, top, label=True, minor=True):
    per_decade = abs(ax(10 ** (e_lo + 1)) - ax(10 ** e_lo))
    step = 1 if per_decade >= 40 else 2  # every other label when they would touch
    for e in range(e_lo, e_hi + 1):
        x = ax(10 ** e)
        svg.line(x, top, x, y, color="#e4e4e4")
        svg.line(x, y, x, y + 4)
        if label and (e - e_lo) % step == 0:
            svg.text(x, y + 16, fmt_pow10_ns(e), size=10, anchor="middle", color="#333")
        if minor and e < e_hi:
            for k in range(2, 10):
                xm = ax(k * 10 ** e)
                svg.line(xm, y, xm, y + 2, color="#777")


# ---------------------------------------------------------------------------
# The picture

def draw(runs, svg_path, args_text):
    systems = system_order(runs)
    if not systems:
        raise SystemExit("plot_pauses.py: no successful pause runs with a PAUSEHIST line")
    colors = {s: color_of(s, i) for i, s in enumerate(systems)}
    fines = {s: summed_fine(runs[s]) for s in systems}
    stats = {}
    for s in systems:
        rr = [r for _, r in runs[s]]
        stats[s] = {
            "rounds": len(rr),
            "maxgap_med": median([r["maxgap"] for r in rr]),
            "maxgap_worst": max(r["maxgap"] for r in rr),
            "p999_med": median([r["p999"] for r in rr]),
            "rate_med": median([r["rate"] for r in rr]),
            "gcmax_med": median([r["gcmax"] for r in rr]),
            "gcs_med": median([r["gcs"] for r in rr]),
            "gcpauses": [p for r in rr for p in r["gcpauses"]],
            "total": sum(c for _, _, c in fines[s]),
        }

    # Common time axis: whole decades around every gap and collector pause.
    lo_all = min(lo for s in systems for lo, _, c in fines[s] if c > 0)
    hi_all = max(max(stats[s]["maxgap_worst"] for s in systems),
                 max((p for s in systems for p in stats[s]["gcpauses"]), default=1))
    e_lo = max(0, math.floor(math.log10(max(lo_all, 1))))
    e_hi = math.ceil(math.log10(max(hi_all, 10 ** (e_lo + 1)) * 1.05))
    if e_hi - e_lo < 3:
        e_hi = e_lo + 3

    n = len(systems)
    panel_w = 260 if n >= 4 else 300
    gap_x = 48
    left = 70
    width = max(left + n * panel_w + (n - 1) * gap_x + 30, 980)
    svg = Svg(width, 0)  # the height is set once the legend is placed

    # Title.
    svg.text(width / 2, 28, "Pause benchmark: gaps the program sees between clock readings (every 64 replacements)",
             size=17, anchor="middle", weight="bold")
    rounds = max(stats[s]["rounds"] for s in systems)
    a = args_text.split()
    what = []
    if len(a) >= 1:
        what.append(f"{int(a[0]):,} records".replace(",", " ") if a[0].isdigit() else f"records {a[0]}")
    if len(a) >= 2 and a[1] not in ("0", "0.0"):
        what.append(f"{a[1]} s")
    if len(a) >= 3 and a[2] != "0":
        what.append(f"at most {a[2]} replacements")
    sub = (", ".join(what) + "; " if what else "") + f"{rounds} round(s) added up per system. " \
        "Max gap (median of rounds" + (", worst" if rounds > 1 else "") + "): " + \
        "; ".join(f"{s} {fmt_ns(stats[s]['maxgap_med'])}"
                  + (f" ({fmt_ns(stats[s]['maxgap_worst'])})" if stats[s]["rounds"] > 1 else "")
                  for s in systems)
    svg.text(width / 2, 48, sub, size=12, anchor="middle", color="#333")

    # --- Row 1: one histogram per system.
    top, bottom = 100, 330
    max_count = max(c for s in systems for c in rebin(fines[s]).values())
    c_hi = math.ceil(math.log10(max(max_count, 10)) + 0.05)
    for i, s in enumerate(systems):
        x0 = left + i * (panel_w + gap_x)
        x1 = x0 + panel_w
        ax = LogAxis(10 ** e_lo, 10 ** e_hi, x0, x1)
        ay = LogAxis(0.5, 10 ** c_hi, bottom, top)
        col = colors[s]
        st = stats[s]
        svg.text(x0 + panel_w / 2, top - 26, s, size=14, anchor="middle", weight="bold", color=col)
        svg.text(x0 + panel_w / 2, top - 10,
                 f"max gap {fmt_ns(st['maxgap_med'])}, p99.9 {fmt_ns(st['p999_med'])}, "
                 f"{st['rate_med'] / 1e6:.2f} M/s", size=10.5, anchor="middle", color="#333")
        svg.rect(x0, top, panel_w, bottom - top, fill="#fbfbfb", stroke="#bbb")
        for e in range(0, c_hi + 1):
            y = ay(10 ** e)
            svg.line(x0, y, x1, y, color="#e4e4e4")
            if i == 0:
                svg.line(x0 - 4, y, x0, y)
                svg.text(x0 - 7, y + 4, fmt_count(e), size=10, anchor="end", color="#333")
        x_axis(svg, ax, bottom, e_lo, e_hi, top)
        for b, c in sorted(rebin(fines[s]).items()):
            blo, bhi = bin_edges(b)
            xa, xb = ax(blo), ax(bhi)
            y = ay(c)
            svg.rect(xa, y, xb - xa - 0.3, bottom - y, fill=col, opacity=0.85)
        # The longest gap of each round.
        for _, r in runs[s]:
            xm = ax(r["maxgap"])
            svg.line(xm, top, xm, bottom, color="#c00000", width=1, dash="4,3", opacity=0.8)
        # The collector's own pauses: ticks under the axis.
        for p in st["gcpauses"]:
            if p > 0:
                xp = ax(p)
                svg.line(xp, bottom + 22, xp, bottom + 32, color="#000", width=0.8, opacity=0.6)
        if st["gcpauses"]:
            svg.text(x0 + 2, bottom + 44, f"ticks: {len(st['gcpauses'])} collector pauses "
                     f"(max {fmt_ns(max(st['gcpauses']))})", size=10, color="#333")
        else:
            svg.text(x0 + 2, bottom + 44, "no collector pauses", size=10, color="#333")
    svg.text(left - 52, (top + bottom) / 2, "gaps per bin", size=11, anchor="middle", rotate=-90)
    svg.text(left, bottom + 62, "Gap length (log scale, 4 bins per doubling). Dashed red: longest gap of each round.",
             size=11, color="#333")

    # --- Row 2: CCDF (left) and share of time (right).
    top2, bottom2 = 450, 780
    half = (width - left - 30 - 90) / 2
    panels = [(left, left + half), (left + half + 90, width - 30)]
    min_frac = min(1.0 / stats[s]["total"] for s in systems if stats[s]["total"] > 0)
    f_lo = math.floor(math.log10(min_frac))

    # CCDF.
    x0, x1 = panels[0]
    ax = LogAxis(10 ** e_lo, 10 ** e_hi, x0, x1)
    ay = LogAxis(10 ** f_lo, 1.0, bottom2, top2)
    svg.text((x0 + x1) / 2, top2 - 12, "Share of gaps at least this long (CCDF)", size=13, anchor="middle",
             weight="bold")
    svg.rect(x0, top2, x1 - x0, bottom2 - top2, fill="#fbfbfb", stroke="#bbb")
    for e in range(f_lo, 1):
        y = ay(10 ** e)
        svg.line(x0, y, x1, y, color="#e4e4e4")
        svg.line(x0 - 4, y, x0, y)
        svg.text(x0 - 7, y + 4, "1" if e == 0 else f"1e{e}", size=10, anchor="end", color="#333")
    x_axis(svg, ax, bottom2, e_lo, e_hi, top2)
    svg.text(x0 - 50, (top2 + bottom2) / 2, "share of gaps ≥ x", size=11, anchor="middle", rotate=-90)
    svg.text((x0 + x1) / 2, bottom2 + 34, "gap length x (log scale)", size=11, anchor="middle")
    for s in systems:
        fine = [b for b in fines[s] if b[2] > 0]
        total = stats[s]["total"]
        if not fine or total == 0:
            continue
        worst = stats[s]["maxgap_worst"]
        tail = total
        pts = []
        for j, (lo, hi, c) in enumerate(fine):
            frac = tail / total
            pts.append((ax(lo), ay(frac)))
            end = min(hi, worst) if j == len(fine) - 1 else hi
            pts.append((ax(max(end, lo)), ay(frac)))
            tail -= c
            if tail > 0:
                pts.append((ax(max(end, lo)), ay(tail / total)))
        svg.polyline(pts, colors[s], dash="5,3" if s in ("malloc", "mimalloc") else None)

    # Share of the measured time spent in gaps at least x long.
    x0, x1 = panels[1]
    ax = LogAxis(10 ** e_lo, 10 ** e_hi, x0, x1)
    svg.text((x0 + x1) / 2, top2 - 12, "Share of the run's time spent in gaps at least this long", size=13,
             anchor="middle", weight="bold")
    svg.rect(x0, top2, x1 - x0, bottom2 - top2, fill="#fbfbfb", stroke="#bbb")

    def ylin(v):
        return bottom2 - v * (bottom2 - top2)

    for k in range(0, 11, 2):
        y = ylin(k / 10)
        svg.line(x0, y, x1, y, color="#e4e4e4")
        svg.line(x0 - 4, y, x0, y)
        svg.text(x0 - 7, y + 4, f"{k * 10}%", size=10, anchor="end", color="#333")
    x_axis(svg, ax, bottom2, e_lo, e_hi, top2)
    svg.text(x0 - 44, (top2 + bottom2) / 2, "share of time in gaps ≥ x", size=11, anchor="middle", rotate=-90)
    svg.text((x0 + x1) / 2, bottom2 + 34, "gap length x (log scale)", size=11, anchor="middle")
    for s in systems:
        fine = [b for b in fines[s] if b[2] > 0]
        if not fine:
            continue
        worst = stats[s]["maxgap_worst"]
        weights = []
        for lo, hi, c in fine:
            mid = math.sqrt(max(lo, 1) * max(min(hi, worst), lo, 1))
            weights.append(c * mid)
        total_t = sum(weights)
        if total_t <= 0:
            continue
        tail = total_t
        pts = []
        for j, (lo, hi, c) in enumerate(fine):
            frac = tail / total_t
            pts.append((ax(lo), ylin(frac)))
            end = min(hi, worst) if j == len(fine) - 1 else hi
            pts.append((ax(max(end, lo)), ylin(frac)))
            tail -= weights[j]
            pts.append((ax(max(end, lo)), ylin(max(tail, 0) / total_t)))
        svg.polyline(pts, colors[s], dash="5,3" if s in ("malloc", "mimalloc") else None)

    # Legend: one line per system.
    ly = bottom2 + 62
    for s in systems:
        st = stats[s]
        if s in ("malloc", "mimalloc"):
            label = (f"{s} (no collector, the baseline): max gap {fmt_ns(st['maxgap_med'])}, "
                     f"p99.9 {fmt_ns(st['p999_med'])}, {st['rate_med'] / 1e6:.2f} M replacements/s")
        else:
            label = (f"{s}: max gap {fmt_ns(st['maxgap_med'])}, p99.9 {fmt_ns(st['p999_med'])}, "
                     f"{st['rate_med'] / 1e6:.2f} M replacements/s, {st['gcs_med']:.0f} collections, "
                     f"longest collector pause {fmt_ns(st['gcmax_med'])}")
        svg.line(left, ly - 4, left + 26, ly - 4, color=colors[s], width=3,
                 dash="5,3" if s in ("malloc", "mimalloc") else None)
        svg.text(left + 34, ly, label, size=11.5)
        ly += 19
    svg.text(width - 10, ly + 4, "numbers: medians over rounds; generated by bench/plot_pauses.py", size=9,
             anchor="end", color="#888", italic=True)
    svg.h = int(ly + 16)

    with open(svg_path, "w", encoding="utf-8") as f:
        f.write(svg.render())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description="Plot the pause benchmark's gap distributions as SVG.")
    p.add_argument("--runs", default=os.path.join(here, "out", "runs"), help="directory of pause_*.out files")
    p.add_argument("--raw", default=os.path.join(here, "out", "raw.tsv"), help="raw.tsv (to skip failed runs)")
    p.add_argument("--svg", default=os.path.join(here, "pauses.svg"), help="SVG to write")
    p.add_argument("--hist", default=os.path.join(here, "out", "pause_hist.tsv"), help="histogram table to write")
    p.add_argument("--args", default="", help="the benchmark's arguments, for the title")
    a = p.parse_args()
    runs = load(a.runs, a.raw)
    if not runs:
        print("plot_pauses.py: no successful pause runs in " + a.runs, file=sys.stderr)
        return 1
    write_hist_tsv(a.hist, runs)
    draw(runs, a.svg, a.args)
    print(f"wrote {a.svg} and {a.hist} ({', '.join(f'{s}: {len(runs[s])} run(s)' for s in system_order(runs))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
