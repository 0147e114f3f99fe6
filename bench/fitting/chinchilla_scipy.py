#!/usr/bin/python3
"""The scipy peer of chinchilla_bench: Chinchilla Approach 3 as Epoch AI fitted it.

Same objective as plascale (sum of Huber_delta over log-loss residuals of
log L = LSE(a - alpha log N, b - beta log D, e)), same 4,500-start grid, scipy's
L-BFGS-B with the analytic gradient, then bootstrap refits warm-started at the optimum.
Prints one JSON line per repeat: seconds of the grid and of the refits, and the objective.
"""
import itertools
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import huber


def main():
    csv, repeats, replicates = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    data = pd.read_csv(csv).sort_values("loss", kind="stable").iloc[:-5]
    params = data["Model Size"].to_numpy()
    log_n = np.log(params)
    log_d = np.log(data["Training FLOP"].to_numpy() / (6.0 * params))
    log_l = np.log(data["loss"].to_numpy())
    delta = 1e-3

    def objective(theta, rows):
        a, b, e, alpha, beta = theta
        terms = np.stack([a - alpha * log_n[rows], b - beta * log_d[rows], np.full(len(rows), e)])
        largest = terms.max(axis=0)
        weights = np.exp(terms - largest)
        total = weights.sum(axis=0)
        residual = largest + np.log(total) - log_l[rows]
        slope = np.clip(residual, -delta, delta) / total
        gradient = np.array([
            np.sum(slope * weights[0]), np.sum(slope * weights[1]), np.sum(slope * weights[2]),
            -np.sum(slope * weights[0] * log_n[rows]), -np.sum(slope * weights[1] * log_d[rows])])
        return np.sum(huber(delta, residual)), gradient

    grid = itertools.product([0, .5, 1, 1.5, 2], [0, .5, 1, 1.5, 2], [-1, -.5, 0, .5, 1],
                             [0, 5, 10, 15, 20, 25], [0, 5, 10, 15, 20, 25])
    starts = [np.array([a, b, e, alpha, beta], float) for alpha, beta, e, a, b in grid]
    everything = np.arange(len(log_l))
    random = np.random.default_rng(0)
    for _ in range(repeats):
        began = time.perf_counter()
        best = None
        for start in starts:
            fit = minimize(objective, start, args=(everything,), jac=True, method="L-BFGS-B")
            if best is None or fit.fun < best.fun:
                best = fit
        grid_seconds = time.perf_counter() - began
        began = time.perf_counter()
        samples = []
        for _ in range(replicates):
            rows = random.integers(0, len(log_l), len(log_l))
            samples.append(minimize(objective, best.x, args=(rows,), jac=True, method="L-BFGS-B").x)
        bootstrap_seconds = time.perf_counter() - began
        samples = np.array(samples)
        a, b, e, alpha, beta = best.x
        print(json.dumps({
            "grid_seconds": grid_seconds, "bootstrap_seconds": bootstrap_seconds,
            "objective": best.fun, "A": np.exp(a), "B": np.exp(b), "E": np.exp(e),
            "alpha": alpha, "beta": beta,
            "se_E": np.std(np.exp(samples[:, 2]), ddof=1), "se_alpha": np.std(samples[:, 3], ddof=1),
            "se_beta": np.std(samples[:, 4], ddof=1)}), flush=True)


if __name__ == "__main__":
    main()
