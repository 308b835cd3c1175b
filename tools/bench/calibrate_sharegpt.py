#!/usr/bin/env python3
"""Finds the raw means of the log-normal prompt/output lengths of `radix bench serving`'s
synthetic ShareGPT stand-in (bench/datasets.h, SyntheticShareGptFit) such that, after
SGLang v0.3's ShareGPT filter (both sides >= 4 tokens, prompt <= 1024, prompt + output
<= 2048), the means are the published ones (227 in / 190 out; docs/bench-serving.md).
Monte Carlo, fixed seed, standard library only:  python3 tools/bench/calibrate_sharegpt.py
"""
import math
import random

TARGET_IN, TARGET_OUT = 227.0, 190.0
SIGMA_IN, SIGMA_OUT = 1.3, 0.9


def post_filter_means(mean_in, mean_out, n=200000, seed=1):
    rng = random.Random(seed)
    mu_in = math.log(mean_in) - SIGMA_IN ** 2 / 2
    mu_out = math.log(mean_out) - SIGMA_OUT ** 2 / 2
    total_in = total_out = kept = 0
    while kept < n:
        p = round(math.exp(rng.gauss(mu_in, SIGMA_IN)))
        o = round(math.exp(rng.gauss(mu_out, SIGMA_OUT)))
        if p < 4 or o < 4 or p > 1024 or p + o > 2048:
            continue
        total_in += p
        total_out += o
        kept += 1
    return total_in / n, total_out / n


def main():
    mean_in, mean_out = TARGET_IN, TARGET_OUT
    for _ in range(12):  # fixed-point iteration; converges to 0.1 token in ~10 steps
        got_in, got_out = post_filter_means(mean_in, mean_out)
        mean_in *= TARGET_IN / got_in
        mean_out *= TARGET_OUT / got_out
    got_in, got_out = post_filter_means(mean_in, mean_out)
    print(f"input_raw_mean = {mean_in:.1f}, output_raw_mean = {mean_out:.1f} "
          f"-> after the filter {got_in:.1f} / {got_out:.1f}")


if __name__ == "__main__":
    main()
