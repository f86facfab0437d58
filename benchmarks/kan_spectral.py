"""Spectral bias of KANs and MLPs: per-frequency learning curves side by side.

Usage::

    python benchmarks/kan_spectral.py [--seeds 0 1 2] [--steps 1000] [--out DIR]

Trains each model on the ``spectral-bias`` task's target (ten sinusoids at
k = 5, 10, ..., 50 on 256 points; full-batch Adam, lr 1e-2) for every seed,
then writes ``DIR/spectral_bias.png`` (one heatmap of relative error per
model, first seed) and ``DIR/spectral_bias.md`` (learning step per frequency,
mean over seeds; "-" where no seed learned it). A frequency counts as learned
when its relative error drops below 0.1.

Models: a KAN of widths [1, 5, 1] with a fixed grid of 20 intervals, the same
KAN grown by grid extension (5 -> 10 -> 20 intervals at 30% and 60% of the
steps), a single-layer KAN with a fixed grid of 200, and ReLU MLPs: one with
two hidden layers matched to the [1, 5, 1] KAN's parameter count, and a large
unmatched one (four hidden layers of 64).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np


def models(steps: int) -> dict:
    from toolkit_kan import KAN, MLP

    milestones = [int(0.3 * steps), int(0.6 * steps)]
    return {
        "kan [1,5,1] G=20": KAN({"hidden": [5], "grid": 20}),
        "kan [1,5,1] G=5->10->20": KAN(
            {
                "hidden": [5],
                "grid": 5,
                "grid_schedule": [10, 20],
                "grid_milestones": milestones,
            }
        ),
        "kan [1,1] G=200": KAN({"hidden": [], "grid": 200, "grid_update_every": 0}),
        "mlp matched (2x ReLU)": MLP({"match_kan": {"hidden": [5], "grid": 20}}),
        "mlp 4x64 ReLU": MLP({"hidden": [64, 64, 64, 64]}),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds to average"
    )
    parser.add_argument("--steps", type=int, default=1000, help="Adam steps per run")
    parser.add_argument(
        "--out", type=Path, default=Path("kan-spectral"), help="output folder"
    )
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from toolkit_kan._spectral import SpectralBiasConfig, plot_errors, run_spectral_bias

    config = SpectralBiasConfig(training={"steps": args.steps, "eval_every": 25})
    runs: dict[str, list] = {}
    start = time.perf_counter()
    for label, architecture in models(args.steps).items():
        runs[label] = [
            run_spectral_bias(architecture, config, seed) for seed in args.seeds
        ]
    elapsed = time.perf_counter() - start

    args.out.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(1, len(runs), figsize=(4 * len(runs), 3.6), sharey=True)
    for axis, (label, seeds) in zip(axes, runs.items()):
        image = plot_errors(
            axis, seeds[0], f"{label}\n({seeds[0].n_params} parameters)"
        )
    figure.colorbar(
        image, ax=list(axes), label="relative error |FFT(residual)[k]| / |FFT(f)[k]|"
    )
    figure.savefig(args.out / "spectral_bias.png", dpi=110, bbox_inches="tight")
    plt.close(figure)

    frequencies = next(iter(runs.values()))[0].frequencies
    lines = [
        (
            f"Learning step per frequency (mean over seeds {args.seeds}; '-' = not "
            f"learned within {args.steps} steps), final relative error averaged "
            "over k >= 30."
        ),
        "",
        "| model | params | "
        + " | ".join(f"k={k}" for k in frequencies)
        + " | error k>=30 | learned |",
        "| --- | --- | " + " | ".join("---" for _ in frequencies) + " | --- | --- |",
    ]
    for label, seeds in runs.items():
        steps = np.array([run.learning_steps for run in seeds])
        cells = []
        for column in steps.T:
            learned = column[~np.isnan(column)]
            if len(learned) == len(column):
                cells.append(f"{learned.mean():.0f}")
            elif len(learned):
                cells.append(f"{learned.mean():.0f} ({len(learned)}/{len(column)})")
            else:
                cells.append("-")
        high = np.mean([run.errors[-1][frequencies >= 30].mean() for run in seeds])
        learned_share = np.mean(~np.isnan(steps))
        lines.append(
            f"| {label} | {seeds[0].n_params} | "
            + " | ".join(cells)
            + f" | {high:.3f} | {learned_share:.0%} |"
        )
    lines.append("")
    lines.append(f"Total time: {elapsed:.0f} s.")
    table = "\n".join(lines)
    (args.out / "spectral_bias.md").write_text(table + "\n", encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
