"""Time and memory of one KAN forward+backward pass: toolkit_kan against pykan.

Usage::

    python benchmarks/kan_speed.py [--repeats 5] [--block 5] [--threads 2]
        [--json out.json]

For every configuration (layer widths, grid size, batch size) and both
implementations, a fresh Python subprocess builds the network (spline order
3) and runs one small warm-up pass. It then records the peak resident set
size (``ru_maxrss``), runs three untimed and ``repeats`` timed
forward+backward passes of a mean squared loss on a full batch. It reports
the median wall time of the timed passes and the growth of the peak
resident set size over the baseline, which is the extra memory a
full-batch pass needs (autograd buffers included). Running each case in its
own process keeps one case's allocator cache out of another's figure.

The times in the table come from one more subprocess per configuration
that builds every implementation and alternates between them in blocks of
``--block`` consecutive passes, so that load from other processes on a
shared machine slows all of them alike. Separate processes gave the same
code timings 20% apart from run to run. The first pass of each block is
not timed: it runs on caches that the other implementation's pass has just
filled (pykan's pass reads and writes hundreds of MiB), which a training
loop, running one model pass after pass, does not see. ``--block 1``
alternates single passes and times all of them, which adds that cold-cache
cost to every pass.

pykan (the ``pykan`` distribution, import name ``kan``) is an optional peer.
It runs in speed mode: ``auto_save=False``, ``symbolic_enabled=False`` and
``save_act=False`` (what ``model.speed()`` sets, without torch.compile), so
it writes no checkpoints and skips its symbolic branch and activation cache.
Without pykan the script measures toolkit_kan alone and prints a notice.

toolkit_kan evaluates the basis faster on equally spaced knots (a fresh
network, or ``grid_update_every: 0``) than on knots adapted to samples by a
grid update. The "adapted" column measures the second case, after one grid
update on clipped normal samples.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

#: Untimed full-batch passes before the timed ones.
WARM_UP_PASSES = 3

#: (widths, grid size, batch size); the third is the headline case.
CASES = [
    ([16, 16, 16], 5, 256),
    ([64, 64, 64], 5, 1024),
    ([64, 64, 64], 10, 1024),
    ([64, 64, 64], 20, 1024),
    ([128, 128, 128], 10, 512),
]


def build(implementation: str, widths: list[int], grid: int):
    import torch

    torch.manual_seed(0)
    if implementation.startswith("toolkit_kan"):
        from toolkit_kan._network import KANNetwork

        network = KANNetwork(list(widths), grid, 3)
        if implementation == "toolkit_kan-adapted":
            # Quantile knots are not equally spaced, which selects the
            # general (slower) basis evaluation.
            samples = torch.randn(4096, widths[0]).clamp(-1, 1)
            network.update_grid(samples)
        return network
    import kan

    model = kan.KAN(
        # pykan rewrites its width argument in place, so it gets a copy.
        width=list(widths),
        grid=grid,
        k=3,
        seed=0,
        auto_save=False,
        symbolic_enabled=False,
        save_act=False,
    )
    return model.speed()


def worker(
    implementation: str,
    widths: list[int],
    grid: int,
    batch: int,
    repeats: int,
    threads: int,
) -> dict:
    """Measure one case in this process and return its figures."""
    import torch

    torch.set_num_threads(threads)
    model = build(implementation, widths, grid)

    def step(inputs):
        model.zero_grad(set_to_none=True)
        loss = model(inputs).square().mean()
        loss.backward()

    generator = torch.Generator().manual_seed(1)
    step(torch.rand((8, widths[0]), generator=generator) * 2 - 1)
    inputs = torch.rand((batch, widths[0]), generator=generator) * 2 - 1
    baseline_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # The first full-batch passes warm up the allocator and thread pool.
    for _ in range(WARM_UP_PASSES):
        step(inputs)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        step(inputs)
        seconds.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "implementation": implementation,
        "widths": widths,
        "grid": grid,
        "batch": batch,
        "seconds": statistics.median(seconds),
        "peak_mib": (peak_kib - baseline_kib) / 1024,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


def interleaved_worker(
    implementations: list[str],
    widths: list[int],
    grid: int,
    batch: int,
    repeats: int,
    threads: int,
    block: int,
) -> dict[str, float]:
    """Time every implementation in this process, alternating blocks of passes.

    Each implementation gets ``repeats`` timed passes, in blocks of
    ``block`` timed passes that follow one untimed pass (none when
    ``block`` is 1).
    """
    import torch

    torch.set_num_threads(threads)
    models = {name: build(name, widths, grid) for name in implementations}
    generator = torch.Generator().manual_seed(1)
    inputs = torch.rand((batch, widths[0]), generator=generator) * 2 - 1

    def step(model):
        model.zero_grad(set_to_none=True)
        model(inputs).square().mean().backward()

    for model in models.values():
        for _ in range(WARM_UP_PASSES):
            step(model)
    seconds: dict[str, list[float]] = {name: [] for name in models}
    while any(len(values) < repeats for values in seconds.values()):
        for name, model in models.items():
            if block > 1:
                step(model)
            for _ in range(min(block, repeats - len(seconds[name]))):
                start = time.perf_counter()
                step(model)
                seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in seconds.items()}


def run_interleaved(implementations, widths, grid, batch, repeats, threads, block):
    """Run :func:`interleaved_worker` in a subprocess; return medians or None."""
    payload = json.dumps(
        [implementations, widths, grid, batch, repeats, threads, block]
    )
    command = [sys.executable, __file__, "--interleaved-worker", payload]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        print(f"interleaved timing failed:\n{completed.stderr}", file=sys.stderr)
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_case(implementation, widths, grid, batch, repeats, threads) -> dict | None:
    command = [
        sys.executable,
        __file__,
        "--worker",
        json.dumps([implementation, widths, grid, batch, repeats, threads]),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        print(
            f"{implementation} {widths} G={grid} B={batch} failed:\n{completed.stderr}",
            file=sys.stderr,
        )
        return None
    return json.loads(completed.stdout.strip().splitlines()[-1])


def has_pykan() -> bool:
    completed = subprocess.run(
        [sys.executable, "-c", "import kan"], capture_output=True, check=False
    )
    return completed.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed passes per case")
    parser.add_argument(
        "--block",
        type=int,
        default=5,
        help="timed passes of one implementation before switching to the next",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--interleaved-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for option in ("repeats", "block", "threads"):
        if getattr(args, option) < 1:
            parser.error(
                f"--{option} must be at least 1; received {getattr(args, option)}"
            )
    if args.worker:
        print(json.dumps(worker(*json.loads(args.worker))))
        return 0
    if args.interleaved_worker:
        print(json.dumps(interleaved_worker(*json.loads(args.interleaved_worker))))
        return 0

    implementations = ["toolkit_kan", "toolkit_kan-adapted"]
    if has_pykan():
        implementations.append("pykan")
    else:
        print("pykan is not installed (pip install pykan); measuring toolkit_kan only")
    print(
        f"# {platform.processor() or platform.machine()}, "
        f"threads={args.threads}, repeats={args.repeats}, block={args.block}"
    )
    print(
        "| widths | grid | batch | params | toolkit_kan ms | adapted ms | pykan ms "
        "| speed-up | adapted speed-up | toolkit_kan MiB | pykan MiB | memory ratio |"
    )
    print("| --- " * 12 + "|")
    rows = []
    for widths, grid, batch in CASES:
        results = {
            name: run_case(name, widths, grid, batch, args.repeats, args.threads)
            for name in implementations
        }
        medians = run_interleaved(
            implementations, widths, grid, batch, args.repeats, args.threads, args.block
        )
        for name, seconds in (medians or {}).items():
            if results[name] is not None:
                results[name]["separate_seconds"] = results[name]["seconds"]
                results[name]["seconds"] = seconds
        rows.append(results)
        ours, peer = results["toolkit_kan"], results.get("pykan")
        adapted = results["toolkit_kan-adapted"]
        if ours is None or adapted is None:
            continue
        cells = [
            str(widths),
            str(grid),
            str(batch),
            str(ours["parameters"]),
            f"{1000 * ours['seconds']:.1f}",
            f"{1000 * adapted['seconds']:.1f}",
        ]
        if peer is not None:
            memory_ratio = (
                ours["peak_mib"] / peer["peak_mib"] if peer["peak_mib"] > 0 else None
            )
            cells += [
                f"{1000 * peer['seconds']:.1f}",
                f"{peer['seconds'] / ours['seconds']:.1f}x",
                f"{peer['seconds'] / adapted['seconds']:.1f}x",
                f"{ours['peak_mib']:.1f}",
                f"{peer['peak_mib']:.1f}",
                "n/a" if memory_ratio is None else f"{memory_ratio:.2f}",
            ]
        else:
            cells += ["-", "-", "-", f"{ours['peak_mib']:.1f}", "-", "-"]
        print("| " + " | ".join(cells) + " |", flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
