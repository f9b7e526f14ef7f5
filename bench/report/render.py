#!/usr/bin/python3
"""Renders brine's benchmark report from the raw JSON of one run.

    render.py RESULTS_DIR [--facts FACTS.json] [--out REPORT.md]

Reads every *.json in RESULTS_DIR that has a "benchmarks" list (Google
Benchmark's format, which python_pools.py and the MPI ping-pong also write)
and writes REPORT.md plus hand-made SVG plots next to it. Any suite may be
missing: its section says so and the rest is rendered.
"""

import argparse
import glob
import json
import math
import os
import platform
import re
import sys
from collections import defaultdict
from datetime import datetime, timezone

NS_PER_UNIT = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}
NAME_SUFFIXES = re.compile(r"(/(real_time|manual_time|process_time|min_time:[^/]*|iterations:\d+|repeats:\d+))+$")


# --- loading ----------------------------------------------------------------

class Row:
    def __init__(self, raw, source):
        self.name = NAME_SUFFIXES.sub("", raw["name"])
        self.parts = self.name.split("/")
        self.ns = raw["real_time"] * NS_PER_UNIT[raw.get("time_unit", "ns")]
        self.raw = raw
        self.source = source

    def counter(self, key):
        value = self.raw.get(key)
        return float(value) if isinstance(value, (int, float)) else None


def load_results(results_dir):
    rows, contexts, errors = [], {}, []
    for path in sorted(glob.glob(os.path.join(results_dir, "*.json"))):
        source = os.path.basename(path)
        try:
            with open(path) as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            errors.append(f"{source}: unreadable ({e})")
            continue
        if not isinstance(data, dict) or "benchmarks" not in data:
            continue
        contexts[source] = data.get("context", {})
        for raw in data["benchmarks"]:
            if raw.get("run_type", "iteration") != "iteration":
                continue
            if raw.get("error_occurred"):
                errors.append(f"{raw['name']}: {raw.get('error_message', 'error')}")
                continue
            rows.append(Row(raw, source))
    return rows, contexts, errors


# --- formatting -------------------------------------------------------------

def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_bytes(n):
    if n is None:
        return "—"
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def fmt_ratio(value, base):
    if value is None or not base:
        return "—"
    return f"{value / base:.2f}×"


def table(header, lines):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in line) + " |" for line in lines]
    return "\n".join(out)


# --- machine facts ----------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_section(facts, contexts, mode):
    items = [
        ("Date", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")),
        ("Mode", mode),
        ("CPU", cpu_model()),
        ("CPUs available", str(len(os.sched_getaffinity(0)))),
        ("Kernel", f"{platform.system()} {platform.release()}"),
    ]
    items += [(key, str(value)) for key, value in sorted(facts.items()) if value not in ("", None)]
    for ctx in contexts.values():
        for key in ("python", "numpy", "joblib", "mpi_library", "library_build_type"):
            if key in ctx:
                items.append((key, str(ctx[key])))
    lines = ["## Machine", ""] + [f"- **{k}**: {v}" for k, v in dict(items).items()]
    if any(ctx.get("library_build_type") == "debug" for ctx in contexts.values()):
        lines.append("- Google Benchmark's library reports a debug build; it times only the loop around the "
                     "code under test, so figures are unaffected in practice.")
    return "\n".join(lines)


# --- SVG --------------------------------------------------------------------

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
           "#7f7f7f", "#bcbd22"]


def _decades(lo, hi):
    return range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)


def _tick_label(exponent, unit_labels):
    for threshold, suffix in unit_labels:
        if exponent >= threshold:
            return f"{10 ** (exponent - threshold):g} {suffix}".strip()
    return f"1e{exponent}"


def loglog_svg(title, xlabel, ylabel, series, x_units, y_units):
    """series: {name: [(x, y), ...]}, all values > 0. Returns SVG text."""
    left, top, bottom = 80, 40, 60
    right = 60 + 7 * max(len(name) for name in series)
    width, height = 570 + right, 460
    points = [p for pts in series.values() for p in pts]
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_dec = _decades(min(xs), max(xs))
    y_dec = _decades(min(ys), max(ys))
    x0, x1 = x_dec.start, max(x_dec.stop - 1, x_dec.start + 1)
    y0, y1 = y_dec.start, max(y_dec.stop - 1, y_dec.start + 1)
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x):
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def py(y):
        return top + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left + plot_w / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>']
    for e in range(x0, x1 + 1):
        x = left + (e - x0) / (x1 - x0) * plot_w
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="{top + plot_h + 18}" text-anchor="middle">'
                   f'{_tick_label(e, x_units)}</text>')
    for e in range(y0, y1 + 1):
        y = top + plot_h - (e - y0) / (y1 - y0) * plot_h
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + plot_w}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">{_tick_label(e, y_units)}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#333"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 18}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text transform="translate(18 {top + plot_h / 2}) rotate(-90)" text-anchor="middle">'
               f'{ylabel}</text>')
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        pts = sorted(pts)
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        out += [f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}"/>' for x, y in pts]
        ly = top + 10 + i * 20
        out.append(f'<line x1="{left + plot_w + 15}" y1="{ly}" x2="{left + plot_w + 40}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{left + plot_w + 46}" y="{ly + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


BYTE_UNITS = [(9, "GB"), (6, "MB"), (3, "kB"), (0, "B")]
TIME_UNITS = [(9, "s"), (6, "ms"), (3, "µs"), (0, "ns"), (-9, "")]


def write_plot(out_dir, filename, title, xlabel, ylabel, series):
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    with open(os.path.join(out_dir, filename), "w") as f:
        f.write(loglog_svg(title, xlabel, ylabel, series, BYTE_UNITS, TIME_UNITS))
    return filename


# --- sections ---------------------------------------------------------------

def serialization_section(rows, out_dir):
    # BM_Serialization{Encode,Decode}/<payload>/<codec>
    cells = defaultdict(dict)  # (payload, codec) -> {"Encode": row, "Decode": row}
    for r in rows:
        if r.parts[0] in ("BM_SerializationEncode", "BM_SerializationDecode") and len(r.parts) == 3:
            cells[(r.parts[1], r.parts[2])][r.parts[0].removeprefix("BM_Serialization")] = r
    if not cells:
        return "## Serialization\n\nNo results (brine_serialization_bench did not run)."

    lines = ["## Serialization", "",
             "Encode from a native C++ struct into bytes, decode and read every field. Ratios divide by the "
             "`memcpy` row of the same payload (a hand-written length-prefixed layout, the floor). Zero-copy "
             "decoders (FlatBuffers, Cap'n Proto) can beat it on decode: they read in place. FlatBuffers' "
             "decode includes its Verifier."]
    plot = defaultdict(list)
    payloads = sorted({p for p, _ in cells}, key=lambda p: min(
        (r.counter("payload_bytes") or 0) for r in cells_for(cells, p)))
    for payload in payloads:
        codecs = {c: ops for (p, c), ops in cells.items() if p == payload}
        total = {c: sum(r.ns for r in ops.values()) if len(ops) == 2 else None for c, ops in codecs.items()}
        floor = codecs.get("memcpy", {})
        floor_total = total.get("memcpy")
        size = next(iter(next(iter(codecs.values())).values())).counter("payload_bytes")
        body = []
        for codec in sorted(codecs, key=lambda c: (total[c] is None, total[c] or 0)):
            ops = codecs[codec]
            enc, dec = ops.get("Encode"), ops.get("Decode")
            any_row = enc or dec
            body.append([f"`{codec}`",
                         fmt_time(enc.ns) if enc else "—", fmt_time(dec.ns) if dec else "—",
                         fmt_time(total[codec]) if total[codec] else "—",
                         fmt_bytes(any_row.counter("bytes")),
                         fmt_ratio(enc.ns if enc else None, floor["Encode"].ns if "Encode" in floor else None),
                         fmt_ratio(dec.ns if dec else None, floor["Decode"].ns if "Decode" in floor else None),
                         f"**{fmt_ratio(total[codec], floor_total)}**"])
            if total[codec] and size:
                plot[codec].append((size, total[codec]))
        lines += ["", f"### `{payload}` ({fmt_bytes(size)} of data)", "",
                  table(["codec", "encode", "decode", "encode+decode", "encoded size", "encode ×memcpy",
                         "decode ×memcpy", "total ×memcpy"], body)]
    svg = write_plot(out_dir, "serialization.svg", "Serialization: encode + decode",
                     "payload data (bytes)", "time per encode+decode", plot)
    if svg:
        lines += ["", f"![encode + decode time against payload size, log-log]({svg})"]
    return "\n".join(lines)


def cells_for(cells, payload):
    return [r for (p, _), ops in cells.items() if p == payload for r in ops.values()]


def transport_section(rows):
    # BM_Transport/<method>/<placement>
    found = [r for r in rows if r.parts[0] == "BM_Transport" and len(r.parts) == 3]
    if not found:
        return "## Transport\n\nNo results (brine_transport_bench did not run)."
    lines = ["## Transport: 8-byte round trip between two processes", "",
             "Parent and a forked child (MPI: two ranks), each pinned: `cross_cpu` on two different CPUs, "
             "`same_cpu` both on one. Spinning transports are not run on one CPU. Wall-clock time per round "
             "trip."]
    for placement in sorted({r.parts[2] for r in found}):
        here = sorted((r for r in found if r.parts[2] == placement), key=lambda r: r.ns)
        brine = [r for r in here if r.parts[1].startswith("brine")]
        base = min((r.ns for r in brine), default=None)
        base_name = next((r.parts[1] for r in brine if r.ns == base), None)
        body = [[f"`{r.parts[1]}`", f"{r.ns / 1e3:.3f}", r.raw.get("label", ""), fmt_ratio(r.ns, base)]
                for r in here]
        ratio_header = f"× `{base_name}`" if base_name else "× brine ring (not measured)"
        lines += ["", f"### {placement}", "", table(["method", "µs / round trip", "CPUs", ratio_header], body)]
    return "\n".join(lines)


def python_section(rows, out_dir):
    py = [r for r in rows if r.parts[0].startswith("BM_Py")]
    if not py:
        return "## Python pools (end to end)\n\nNo results (python_pools.py did not run or was skipped)."
    lines = ["## Python pools (end to end)", "",
             "Debian's Python, 2 workers, fork start method. What brine's pool is measured against."]
    trips = [r for r in py if r.parts[0] == "BM_PyRoundTrip"]
    if trips:
        body = [[f"`{r.parts[1]}`", f"{r.ns / 1e3:.1f}"] for r in sorted(trips, key=lambda r: r.ns)]
        lines += ["", "### One empty task, submit and wait", "", table(["pool", "µs / task"], body)]
    maps = [r for r in py if r.parts[0] == "BM_PyMap"]
    if maps:
        body = [[f"`{r.parts[2]}`", r.parts[1], fmt_time(r.ns), f"{(r.counter('items_per_second') or 0) / 1e6:.2f}"]
                for r in sorted(maps, key=lambda r: r.ns)]
        lines += ["", "### map of trivial tasks", "", table(["pool", "tasks", "time", "M tasks/s"], body)]
    sums = [r for r in py if r.parts[0] == "BM_PyArraySum"]
    plot = defaultdict(list)
    if sums:
        body = []
        for size in sorted({r.parts[1] for r in sums}, key=lambda s: int(s.removesuffix("MiB"))):
            here = sorted((r for r in sums if r.parts[1] == size), key=lambda r: r.ns)
            local = next((r.ns for r in here if r.parts[2] == "in_process"), None)
            for r in here:
                body.append([size, f"`{r.parts[2]}`", fmt_time(r.ns), fmt_ratio(r.ns, local)])
                plot[r.parts[2]].append((r.counter("payload_bytes"), r.ns))
        lines += ["", "### Send a float64 array to a worker that sums it", "",
                  table(["array", "method", "time", "× in-process sum"], body)]
    svg = write_plot(out_dir, "python_array_sum.svg", "Python: sum an array in a worker",
                     "array size (bytes)", "time per call", plot)
    if svg:
        lines += ["", f"![array sum time against array size, log-log]({svg})"]
    return "\n".join(lines)


def other_section(rows):
    known = ("BM_Serialization", "BM_Transport", "BM_Py")
    rest = [r for r in rows if not r.parts[0].startswith(known)]
    if not rest:
        return None
    body = [[f"`{r.name}`", fmt_time(r.ns), r.source] for r in rest]
    return "## Other benchmarks\n\n" + table(["benchmark", "time", "file"], body)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results_dir")
    parser.add_argument("--facts", help="JSON object of machine and build facts for the header")
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "REPORT.md"))
    parser.add_argument("--mode", default="full")
    args = parser.parse_args()

    facts = {}
    if args.facts and os.path.exists(args.facts):
        with open(args.facts) as f:
            facts = json.load(f)
    rows, contexts, errors = load_results(args.results_dir)
    out_dir = os.path.dirname(os.path.abspath(args.out))

    sections = ["# brine benchmark report", "",
                "Generated by `bench/run_report.sh` from the raw JSON in `bench/report/raw/`. Every alternative "
                "is measured in the same run; compare ratios, not absolute figures from another day.",
                "", machine_section(facts, contexts, args.mode)]
    for text in (serialization_section(rows, out_dir), transport_section(rows), python_section(rows, out_dir),
                 other_section(rows)):
        if text:
            sections += ["", text]
    if errors:
        sections += ["", "## Rows that failed", ""] + [f"- {e}" for e in errors]
    with open(args.out, "w") as f:
        f.write("\n".join(sections) + "\n")
    print(f"wrote {args.out} ({len(rows)} rows from {len(contexts)} files)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
