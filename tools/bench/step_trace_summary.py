#!/usr/bin/env python3
"""Takes a serving run apart from the engine's step trace (`radix serve --step-trace F`,
runtime/step_trace.h: one JSON line per step). Standard library only.

    python3 tools/bench/step_trace_summary.py steps.jsonl [--from T0] [--to T1] [--after-gap S]

Prints where the wall time went: steps with prefill (extend) tokens vs decode-only steps,
the engine thread's own time, and idle time between steps (no work: waiting for
requests); decode steps by batch size (steps, seconds, ms/step, tokens/s); prefill
throughput; and the tail — the time from the last moment the running count was at least
10 % of its peak to the end, and what it produced.
"""
import argparse
import json
import sys

BUCKETS = [(1, 1), (2, 8), (9, 32), (33, 128), (129, 256), (257, 512), (513, 1024), (1025, 1 << 30)]


def load(path, t0, t1):
    steps = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            s = json.loads(line)
            if t0 is not None and s["t"] < t0:
                continue
            if t1 is not None and s["t"] > t1:
                continue
            steps.append(s)
    return steps


def decode_cost_fit(dec):
    """(a, b) of step ms = a + b * decode_rows by least squares, or None (< 2 distinct sizes)."""
    xs = [s["decode_rows"] for s in dec]
    ys = [s["forward_ms"] + s["host_ms"] for s in dec]
    n = len(xs)
    if n < 2:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx == 0:
        return None
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return my - b * mx, b


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trace")
    ap.add_argument("--from", dest="t0", type=float, default=None, help="ignore steps before this t (s)")
    ap.add_argument("--to", dest="t1", type=float, default=None, help="ignore steps after this t (s)")
    ap.add_argument("--after-gap", type=float, default=None,
                    help="start after the first pause of more than this many seconds between steps "
                         "(skips the server's warm-up request)")
    a = ap.parse_args()
    steps = load(a.trace, a.t0, a.t1)
    if a.after_gap is not None:
        for i in range(1, len(steps)):
            if steps[i]["t"] - steps[i - 1]["t"] > a.after_gap:
                steps = steps[i:]
                break
    if not steps:
        print("no steps in the trace", file=sys.stderr)
        return 1
    # A step's line is written when it ends; it began forward_ms + host_ms earlier.
    begin = steps[0]["t"] - (steps[0]["forward_ms"] + steps[0]["host_ms"]) / 1e3
    wall = steps[-1]["t"] - begin
    fwd = sum(s["forward_ms"] for s in steps) / 1e3
    host = sum(s["host_ms"] for s in steps) / 1e3
    pre = [s for s in steps if s["extend_tokens"] > 0]
    dec = [s for s in steps if s["extend_tokens"] == 0]
    pre_s = sum(s["forward_ms"] + s["host_ms"] for s in pre) / 1e3
    dec_s = sum(s["forward_ms"] + s["host_ms"] for s in dec) / 1e3
    out_tokens = sum(s["decode_rows"] for s in steps)
    print(f"steps {len(steps)} over {wall:.2f} s: forward {fwd:.2f} s ({100 * fwd / wall:.1f} %), "
          f"engine thread {host:.2f} s ({100 * host / wall:.1f} %), "
          f"idle {wall - fwd - host:.2f} s ({100 * (wall - fwd - host) / wall:.1f} %)")
    ext = sum(s["extend_tokens"] for s in pre)
    pre_fwd = sum(s["forward_ms"] for s in pre) / 1e3
    print(f"steps with prefill: {len(pre)}, {pre_s:.2f} s ({100 * pre_s / wall:.1f} % of wall); "
          f"{ext} prompt tokens computed, {ext / pre_fwd if pre_fwd else 0:.0f} tok/s of their forward; "
          f"{sum(s['decode_rows'] for s in pre)} decode rows rode along")
    print(f"decode-only steps: {len(dec)}, {dec_s:.2f} s ({100 * dec_s / wall:.1f} % of wall); "
          f"graphs {sum(1 for s in dec if s['graph'])}, cascade {sum(1 for s in dec if s['cascade'])}")
    print(f"{'decode rows':>14} {'steps':>7} {'seconds':>8} {'ms/step':>8} {'host ms':>8} {'tok/s':>9}")
    for lo, hi in BUCKETS:
        b = [s for s in dec if lo <= s["decode_rows"] <= hi]
        if not b:
            continue
        sec = sum(s["forward_ms"] + s["host_ms"] for s in b) / 1e3
        rows = sum(s["decode_rows"] for s in b)
        label = f"{lo}" if lo == hi else (f"{lo}-{hi}" if hi < (1 << 30) else f">={lo}")
        print(f"{label:>14} {len(b):>7} {sec:>8.2f} {1e3 * sec / len(b):>8.2f} "
              f"{sum(s['host_ms'] for s in b) / len(b):>8.3f} {rows / sec if sec else 0:>9.0f}")
    fit = decode_cost_fit(dec)
    if fit is not None:
        a, b = fit
        print(f"decode step cost, least squares over the decode-only steps: {a:.2f} ms + {b:.4f} ms per row")
    ones = sorted(s["forward_ms"] + s["host_ms"] for s in dec if s["decode_rows"] == 1)
    if ones:
        one = ones[len(ones) // 2]
        print(f"a request decoding in every decode-only step spends >= {len(dec)} x {one:.2f} ms "
              f"(median batch-1 step) = {len(dec) * one / 1e3:.2f} s in them")
    peak = max(s["running"] for s in steps)
    last_busy = max((s["t"] for s in steps if s["running"] >= 0.1 * peak), default=steps[-1]["t"])
    tail = [s for s in steps if s["t"] > last_busy]
    tail_s = steps[-1]["t"] - last_busy
    print(f"peak running {peak}; tail (running < 10 % of peak) from t = {last_busy - begin:.2f} s: "
          f"{tail_s:.2f} s ({100 * tail_s / wall:.1f} % of wall), {len(tail)} steps, "
          f"{sum(s['decode_rows'] for s in tail)} tokens")
    print(f"decode tokens {out_tokens} (plus one per finished prefill) in {wall:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
