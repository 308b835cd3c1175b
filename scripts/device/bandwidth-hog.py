#!/usr/bin/env python3
"""Takes HBM bandwidth from the other processes on the GPU: device-to-device copies
(cudaMemcpyAsync through torch, run by the copy engines, not the SMs) on N streams, in a
loop, until SIGTERM or --seconds. It prints the rate it copied at on exit.

Used by scripts/device/emulated-bandwidth.sh to run a radix step against a slower
memory than the H200's (an H100-like read rate) on the same chip. Runs on the GPU
machine only (torch is there, not here).

  python3 scripts/device/bandwidth-hog.py --streams 2 --gib 2 --ready-file /tmp/hog.ready
"""
import argparse
import signal
import sys
import time

import torch


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--streams", type=int, default=1, help="copy streams (each its own buffers)")
    p.add_argument("--gib", type=float, default=2.0, help="bytes of one copy, GiB")
    p.add_argument("--seconds", type=float, default=300.0, help="stop after this long")
    p.add_argument("--duty", type=float, default=1.0,
                   help="fraction of the time spent copying: each round of copies is followed by a pause")
    p.add_argument("--ready-file", default="", help="touched once the copies run")
    a = p.parse_args()
    if a.streams < 1 or a.gib <= 0 or not 0 < a.duty <= 1:
        print("bandwidth-hog: --streams must be >= 1, --gib > 0 and --duty in (0, 1]", file=sys.stderr)
        return 2
    stop = False

    def on_term(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    n = int(a.gib * (1 << 30))
    streams = [torch.cuda.Stream() for _ in range(a.streams)]
    bufs = [(torch.ones(n, dtype=torch.uint8, device="cuda"), torch.empty(n, dtype=torch.uint8, device="cuda"))
            for _ in streams]
    torch.cuda.synchronize()
    copies = 0
    t0 = time.perf_counter()
    ready = False
    while not stop and time.perf_counter() - t0 < a.seconds:
        r0 = time.perf_counter()
        for s, (src, dst) in zip(streams, bufs):
            with torch.cuda.stream(s):
                for _ in range(4):
                    dst.copy_(src)
        for s in streams:
            s.synchronize()
        copies += 4 * len(streams)
        if a.duty < 1:
            time.sleep((time.perf_counter() - r0) * (1 - a.duty) / a.duty)
        if not ready:
            ready = True
            t0, copies = time.perf_counter(), 0  # the first round warms up; rate from here on
            if a.ready_file:
                open(a.ready_file, "w").close()
    dt = time.perf_counter() - t0
    gbps = copies * n / dt / 1e9 if dt > 0 else 0.0
    print(f"bandwidth-hog: {a.streams} stream(s), duty {a.duty:g}, {copies} copies of {a.gib:g} GiB in {dt:.2f} s: "
          f"{gbps:.0f} GB/s copied ({2 * gbps:.0f} GB/s of HBM traffic: read + write)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
