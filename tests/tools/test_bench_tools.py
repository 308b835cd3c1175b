#!/usr/bin/env python3
"""Unit tests of the benchmark post-processing tools in tools/bench (standard library
only; ctest `bench_tools`): ncu_step_summary.py (per-kernel time of one engine step from
an Nsight Compute CSV), step_trace_summary.py (a serving run's step trace) and
step_cost_fit.py (a decode step's fixed and per-byte costs)."""
import io
import json
import os
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))

import ncu_step_summary as ncu  # noqa: E402
import step_cost_fit as costfit  # noqa: E402
import step_trace_summary as trace  # noqa: E402

HEADER = ('"ID","Process ID","Process Name","Host Name","Kernel Name","Context","Stream","Block Size",'
          '"Grid Size","Device","CC","Section Name","Metric Name","Metric Unit","Metric Value"')


def ncu_row(i, name, value, unit="ns", grid="(64, 8, 1)"):
    return (f'"{i}","1","radix","host","{name}","1","13","(128, 1, 1)","{grid}","0","9.0",'
            f'"Command line profiler metrics","gpu__time_duration.sum","{unit}","{value}"')


class NcuStepSummary(unittest.TestCase):
    def csv_lines(self):
        names = [
            ("void radix::gather_kernel<U16>(T1 *, const int *)", "2,000"),       # step 0 (prefill)
            ("void attn::prefill_kernel<128, attn::Variant<0, 0>>(AttnArgs)", "9,000"),
            ("radix::<unnamed>::sample_kernel(const float *)", "1,000"),
            ("void radix::gather_kernel<U16>(T1 *, const int *)", "3,000"),       # step 1 (decode)
            ("void attn::decode_kernel<128, 4, attn::Variant<0, 0>, 0>(AttnArgs)", "100,000"),
            ("void attn::decode_kernel<128, 4, attn::Variant<0, 0>, 0>(AttnArgs)", "110,000"),
            ("nvjet_sm90_tst_64x64", "0.05", ),
            ("radix::<unnamed>::sample_kernel(const float *)", "14,000"),
        ]
        lines = ["==PROF== Connected to process 1", "[info] some log line", HEADER]
        for i, (n, v) in enumerate(names):
            unit = "ms" if v == "0.05" else "ns"
            lines.append(ncu_row(i, n, v, unit))
        return [line + "\n" for line in lines]

    def test_reads_times_in_microseconds_and_strips_parameter_lists(self):
        ks = ncu.read_kernels(self.csv_lines())
        self.assertEqual(len(ks), 8)
        self.assertEqual(ks[0][0], "radix::gather_kernel<U16>")
        self.assertAlmostEqual(ks[0][1], 2.0)
        self.assertAlmostEqual(ks[6][1], 50.0)  # 0.05 ms
        self.assertEqual(ks[4][0], "attn::decode_kernel<128, 4, attn::Variant<0, 0>, 0>")

    def test_steps_end_at_the_sampling_kernel_and_group_by_name(self):
        steps = ncu.split_steps(ncu.read_kernels(self.csv_lines()), "sample")
        self.assertEqual([len(s) for s in steps], [3, 5])
        rows, total = ncu.summarize(steps[-1])
        self.assertAlmostEqual(total, 3 + 100 + 110 + 50 + 14)
        self.assertEqual(rows[0][0], "attn::decode_kernel<128, 4, attn::Variant<0, 0>, 0>")
        self.assertAlmostEqual(rows[0][1], 210.0)
        self.assertEqual(rows[0][2], 2)

    def test_kernels_after_the_last_sampling_kernel_are_not_a_step(self):
        # One-batch runs a memory read probe after its last step.
        lines = self.csv_lines() + [ncu_row(8, "radix::<unnamed>::read_kernel(const uint4 *)", "470,000") + "\n"]
        steps = ncu.split_steps(ncu.read_kernels(lines), "sample")
        self.assertEqual([len(s) for s in steps], [3, 5])
        self.assertEqual(steps[-1][-1][0], "radix::<unnamed>::sample_kernel")

    def test_command_line_prints_the_last_step(self):
        with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
            f.writelines(self.csv_lines())
        try:
            out = subprocess.run([sys.executable, os.path.join(ROOT, "tools/bench/ncu_step_summary.py"), f.name,
                                  "--layers", "2"], capture_output=True, text=True, check=True).stdout
        finally:
            os.unlink(f.name)
        self.assertIn("8 kernels, 2 steps; step -1: 5 kernels, 277 us", out)
        self.assertIn("(105.0/layer)", out)

    def test_unknown_units_are_an_error(self):
        lines = [HEADER + "\n", ncu_row(0, "k", "1", unit="cycle") + "\n"]
        with self.assertRaises(ValueError):
            ncu.read_kernels(lines)


class StepTraceSummary(unittest.TestCase):
    def test_fit_and_critical_path_lines(self):
        steps = []
        t = 0.0
        # One prefill step, then decode steps costing 4 ms + 0.01 ms per row.
        steps.append({"t": 0.1, "forward_ms": 90.0, "host_ms": 1.0, "extend_tokens": 5000, "decode_rows": 0,
                      "running": 100, "graph": False, "cascade": False})
        t = 0.1
        for rows in [100] * 10 + [10] * 10 + [1] * 5:
            ms = 4.0 + 0.01 * rows
            t += ms / 1e3
            steps.append({"t": t, "forward_ms": ms - 0.1, "host_ms": 0.1, "extend_tokens": 0,
                          "decode_rows": rows, "running": rows, "graph": True, "cascade": False})
        self.assertEqual(tuple(round(v, 4) for v in trace.decode_cost_fit([s for s in steps if not s["extend_tokens"]])),
                         (4.0, 0.01))
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            for s in steps:
                f.write(json.dumps(s) + "\n")
        try:
            argv = sys.argv
            sys.argv = ["step_trace_summary.py", f.name]
            buf = io.StringIO()
            with redirect_stdout(buf):
                self.assertEqual(trace.main(), 0)
        finally:
            sys.argv = argv
            os.unlink(f.name)
        out = buf.getvalue()
        self.assertIn("decode-only steps: 25", out)
        self.assertIn("4.00 ms + 0.0100 ms per row", out)
        self.assertIn(">= 25 x 4.01 ms (median batch-1 step) = 0.10 s", out)


def fit_output(shapes, a_ms, b_ms, gb_per_s, read_rate=4400.0):
    """fixed-cost-fit.sh's output for steps of exactly a + b * layers + GB / rate."""
    lines = ["noise before the first run"]
    for layers, inter in shapes:
        gb = layers * (0.1 + 3 * 4096 * inter * 2 / 1e9) + 1.05
        ms = a_ms + b_ms * layers + gb / gb_per_s * 1e3
        lines += [f"== layers {layers} intermediate {inter}",
                  f"  Decode.  median latency: {ms / 1e3:.9f} s, median throughput: {1e3 / ms:.2f} token/s",
                  f"  Roofline. decode step reads {gb:.6f} GB (weights {gb - 0.05:.6f} + KV 0.050); at "
                  f"{read_rate:.0f} GB/s (read rate measured now): 0.00300 s; median step at 80.0% of it",
                  "  Roofline, every weight counted (16.061 GB, the whole embedding table too): median step at 84.0%"]
    return lines


class StepCostFit(unittest.TestCase):
    SHAPES = [(32, 7168), (32, 14336), (32, 28672), (16, 14336), (48, 14336)]

    def test_recovers_the_fixed_and_per_byte_costs(self):
        runs = costfit.parse(fit_output(self.SHAPES, 0.02, 0.0215, 4200.0))
        self.assertEqual([(r[0], r[1]) for r in runs], self.SHAPES)
        a, b, c, rate = costfit.fit(runs)
        self.assertAlmostEqual(a, 0.02, places=6)
        self.assertAlmostEqual(b, 0.0215, places=7)
        self.assertAlmostEqual(1e3 / c, 4200.0, places=2)
        self.assertAlmostEqual(rate, 4400.0)

    def test_predicts_a_step_at_another_read_rate(self):
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write("\n".join(fit_output(self.SHAPES, 0.0, 0.02, 4000.0, read_rate=5000.0)) + "\n")
        try:
            buf = io.StringIO()
            with redirect_stdout(buf):
                self.assertEqual(costfit.main([f.name, "--read-rate", "2500", "--layers", "10", "--gb", "4"]), 0)
        finally:
            os.unlink(f.name)
        out = buf.getvalue()
        self.assertIn("80.0 % of the 5000 GB/s read rate", out)
        # 10 x 0.02 ms + 4 GB at 80 % of 2500 GB/s (2 ms) = 2.2 ms.
        self.assertIn("at 2500 GB/s, 10 layers, 4.000 GB: 2.20 ms = 454.5 tok/s", out)

    def test_runs_that_cannot_separate_layers_from_bytes_are_refused(self):
        with self.assertRaisesRegex(ValueError, "at least 3 runs"):
            costfit.fit(costfit.parse(fit_output(self.SHAPES[:2], 0.0, 0.02, 4000.0)))
        same_layers = [(32, 7168), (32, 14336), (32, 28672)]
        with self.assertRaisesRegex(ValueError, "vary both"):
            costfit.fit(costfit.parse(fit_output(same_layers, 0.0, 0.02, 4000.0)))
        # A file that is not there is an error message and exit status 2, not a traceback.
        err = io.StringIO()
        with redirect_stderr(err):
            self.assertEqual(costfit.main([os.path.join(tempfile.gettempdir(), "no-such-fit-output.txt")]), 2)
        self.assertIn("step_cost_fit:", err.getvalue())
        # A run cut off before its rate line is not a run.
        lines = fit_output(self.SHAPES, 0.0, 0.02, 4000.0)
        self.assertEqual(len(costfit.parse(lines[:-2])), len(self.SHAPES) - 1)


if __name__ == "__main__":
    unittest.main()
