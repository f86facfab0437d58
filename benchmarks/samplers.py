"""Compare the ensemble Langevin samplers with emcee and random-walk Metropolis.

Every sampler gets the same evaluation budget on every task of the
``toolkit_aldi`` plugin, over several seeds. The script prints, per task and
sampler, the mean and standard deviation over seeds of each metric, the
ratio of each sampler's covariance error to emcee's, and the stationary
variance bias against step size of the unadjusted samplers on one Gaussian.

Usage::

    python benchmarks/samplers.py [--quick]

``--quick`` uses 3 seeds instead of 8 and a shorter bias sweep.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from toolkit import NotApplicable, RunContext
from toolkit_aldi.aldi import AldiSampler
from toolkit_aldi.baselines import EmceeSampler, RandomWalkMetropolis
from toolkit_aldi.metrics import pooled_moments
from toolkit_aldi.targets import GaussianTarget
from toolkit_aldi.tasks import (
    BananaTask,
    EllipticInverseTask,
    FunnelTask,
    GaussianTask,
    LinearInverseTask,
)
from toolkit_aldi.underdamped import EnsembleUnderdampedSampler

SAMPLERS = [EnsembleUnderdampedSampler, AldiSampler, EmceeSampler, RandomWalkMetropolis]
TASKS = [
    ("gaussian-k1", GaussianTask({"condition_number": 1.0})),
    ("gaussian-k1e6", GaussianTask({"condition_number": 1e6})),
    ("linear-inverse", LinearInverseTask()),
    ("elliptic-inverse", EllipticInverseTask()),
    ("banana", BananaTask()),
    ("funnel", FunnelTask()),
]
SHOWN = ("cov_error", "mean_error", "ess_per_eval")


def run_cells(seeds):
    """Run every task x sampler x seed; return results keyed by (task, sampler)."""
    results = {}
    for label, task in TASKS:
        for sampler_class in SAMPLERS:
            sampler = sampler_class()
            scores, failures, start = [], [], time.perf_counter()
            for seed in seeds:
                try:
                    scores.append(task.run({"sampler": sampler}, RunContext(seed=seed)))
                except NotApplicable:
                    break
                except RuntimeError as error:
                    failures.append(str(error).split(":")[0])
            elapsed = time.perf_counter() - start
            results[label, sampler.name] = (scores, failures, elapsed)
    return results


def print_table(results):
    header = f"| task | sampler | {' | '.join(SHOWN)} | cov_error / emcee | failed | s/cell |"
    print(header)
    print("|" + " --- |" * (header.count("|") - 1))
    for label, _ in TASKS:
        emcee_scores = results[label, "emcee"][0]
        emcee_cov = (
            np.mean([s["cov_error"] for s in emcee_scores]) if emcee_scores else np.nan
        )
        for sampler_class in SAMPLERS:
            scores, failures, elapsed = results[label, sampler_class.name]
            n_cells = len(scores) + len(failures)
            cells = []
            for name in SHOWN:
                values = np.array([s[name] for s in scores])
                cells.append(
                    f"{values.mean():.3g} ± {values.std(ddof=1):.2g}"
                    if len(values) > 1
                    else "–"
                )
            ratio = (
                np.mean([s["cov_error"] for s in scores]) / emcee_cov
                if scores
                else np.nan
            )
            per_cell = elapsed / n_cells if n_cells else 0.0
            print(
                f"| {label} | {sampler_class.name} | {' | '.join(cells)} | {ratio:.2g} | "
                f"{len(failures)}/{n_cells} | {per_cell:.2f} |"
            )


def print_bias_sweep(step_sizes, seeds, budget):
    """Print the mean whitened variance minus 1 against step size, kappa = 1e6."""
    print("\n| sampler | step size | variance bias (mean ± sd over seeds) |")
    print("| --- | --- | --- |")
    for sampler_class in (AldiSampler, EnsembleUnderdampedSampler):
        for step_size in step_sizes:
            biases = []
            for seed in seeds:
                target = GaussianTarget(condition_number=1e6)
                samples = sampler_class({"step_size": step_size}).sample(
                    target, budget, seed
                )
                _, covariance = pooled_moments(
                    samples.positions[len(samples.positions) // 2 :]
                )
                factor = np.linalg.cholesky(target.true_covariance)
                whitened = np.linalg.solve(
                    factor, np.linalg.solve(factor, covariance).T
                )
                biases.append(np.trace(whitened) / target.dim - 1.0)
            print(
                f"| {sampler_class.name} | {step_size} | "
                f"{np.mean(biases):+.3f} ± {np.std(biases, ddof=1):.3f} |"
            )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="3 seeds, short bias sweep"
    )
    args = parser.parse_args()
    seeds = range(3) if args.quick else range(8)
    start = time.perf_counter()
    print_table(run_cells(seeds))
    step_sizes = (0.05, 0.2) if args.quick else (0.025, 0.05, 0.1, 0.2, 0.4)
    print_bias_sweep(step_sizes, seeds, budget=200_000)
    print(f"\ntotal {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
