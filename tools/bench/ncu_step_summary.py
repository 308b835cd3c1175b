#!/usr/bin/env python3
"""Per-kernel time of one engine step from an Nsight Compute CSV. Standard library only.

On the GPU machine (no nsys there), profile a short eager one-batch run, e.g.

    ncu --csv --metrics gpu__time_duration.sum --cache-control none --clock-control none \\
      radix bench one-batch --model-path configs/llama-3-8b.json --load-format dummy \\
      --device cuda --batch-size 64 --input-len 1024 --output-len 2 --warmup-steps 0 \\
      --disable-cuda-graph > ncu.csv

(scripts/device/profile-step.sh does this), then

    python3 tools/bench/ncu_step_summary.py ncu.csv [--step -1] [--layers 32]

Steps are cut after each sampling kernel (every step ends with one), so with
--output-len 2 the last step is one decode step. Prints the step's kernels grouped by
name: total µs, share of the step, calls, µs per call (per layer with --layers).
"""
import argparse
import csv
import re
import sys

UNIT_TO_US = {"ns": 1e-3, "nsecond": 1e-3, "us": 1.0, "usecond": 1.0, "ms": 1e3, "msecond": 1e3}


def short_name(name):
    """Kernel name without its parameter list (and without a leading `void `)."""
    depth = 0
    for i, c in enumerate(name):
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
        elif c == "(" and depth == 0:
            name = name[:i]
            break
    return re.sub(r"^void ", "", name).strip()


def read_kernels(lines):
    """[(name, microseconds, grid, block)] in launch order from ncu --csv output."""
    rows = csv.DictReader(line for line in lines if line.startswith('"'))
    out = []
    for r in rows:
        if r.get("Metric Name") != "gpu__time_duration.sum":
            continue
        scale = UNIT_TO_US.get(r.get("Metric Unit", "ns").strip(), None)
        if scale is None:
            raise ValueError(f"unknown time unit {r.get('Metric Unit')!r}")
        value = float(r["Metric Value"].replace(",", "")) * scale
        out.append((short_name(r["Kernel Name"]), value, r.get("Grid Size", ""), r.get("Block Size", "")))
    return out


def split_steps(kernels, end_pattern):
    """Kernel lists, each ending with a kernel whose name matches end_pattern. Kernels after
    the last such kernel are not a step (e.g. one-batch's memory read probe) and are dropped."""
    steps, cur = [], []
    for k in kernels:
        cur.append(k)
        if re.search(end_pattern, k[0]):
            steps.append(cur)
            cur = []
    return steps


def summarize(step):
    """[(name, total_us, calls, grids)] sorted by total time, and the step's total."""
    agg = {}
    for name, us, grid, _ in step:
        a = agg.setdefault(name, [0.0, 0, set()])
        a[0] += us
        a[1] += 1
        a[2].add(grid)
    total = sum(a[0] for a in agg.values())
    rows = sorted(((n, a[0], a[1], sorted(a[2])) for n, a in agg.items()), key=lambda r: -r[1])
    return rows, total


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("--step", type=int, default=-1, help="which step (Python index; default the last)")
    ap.add_argument("--step-end", default=r"sample", help="regex of the kernel that ends a step")
    ap.add_argument("--layers", type=int, default=0, help="also print µs per layer for kernels called this many times")
    a = ap.parse_args()
    with open(a.csv, errors="replace") as f:
        kernels = read_kernels(f)
    if not kernels:
        print("no gpu__time_duration.sum rows in the CSV", file=sys.stderr)
        return 1
    steps = split_steps(kernels, a.step_end)
    try:
        step = steps[a.step]
    except IndexError:
        print(f"only {len(steps)} steps in the CSV", file=sys.stderr)
        return 1
    rows, total = summarize(step)
    print(f"{len(kernels)} kernels, {len(steps)} steps; step {a.step}: {len(step)} kernels, {total:.0f} us")
    print(f"{'total us':>10} {'share':>6} {'calls':>5} {'us/call':>8}  kernel [grids]")
    for name, us, calls, grids in rows:
        per = f"{us / calls:8.1f}"
        if a.layers and calls % a.layers == 0:
            per += f" ({us / a.layers:.1f}/layer)"
        print(f"{us:10.0f} {100 * us / total:5.1f}% {calls:5d} {per}  {name[:90]} {grids[:2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
