"""Epochs per second of one fixed search on the CPU and, when there is one, on the GPU.

Each device gets the same search in a fresh process (``houses-tune search --device
...`` on the embedded dataset, same space, budget and seed), because the device and the
Keras backend are fixed when a process starts. Epochs per second = epochs trained /
seconds the search ran (run.json's timing and the trials' history files: process
start-up is left out, worker start-up is not). The device is named as the search saw
it. Not a test: run it by hand, e.g.

    python benchmarks/device_speed.py                      # cpu, then gpu if present
    python benchmarks/device_speed.py --mixed-precision    # adds mixed-precision runs
    python benchmarks/device_speed.py --workers 0 2        # and with 2 worker processes
    KERAS_BACKEND=jax python benchmarks/device_speed.py    # the same on JAX
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def gpu_count() -> int:
    """GPUs the Keras backend sees, asked in a child process (this one stays backend-free)."""
    code = "from houses_tune.tuner.devices import list_gpus; print(len(list_gpus()))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(), check=True
    )
    return int(done.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


def run_search(
    device: str, mixed: bool, workers: int, args: argparse.Namespace, results: Path
) -> dict:
    """One search on ``device`` (with ``workers`` worker processes, 0: none); its figures."""
    name = f"{device}{'-mixed' if mixed else ''}-w{workers}"
    command = [
        sys.executable, "-m", "houses_tune", "search", "--device", device,
        "--space", args.space, "--budget", str(args.budget), "--max-epochs", str(args.max_epochs),
        "--seed", "0", "--results-dir", str(results), "--run", name,
    ]  # fmt: skip
    if mixed:
        command.append("--mixed-precision")
    if workers:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(), capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    wall = time.perf_counter() - started
    run = results / name
    info = json.loads((run / "run.json").read_text())
    epochs = trials = 0
    for history in (run / "tuner").glob("trial_*/history.json"):
        epochs += int(json.loads(history.read_text()).get("epochs_trained", 0))
        trials += 1
    seconds = float(info["timing"]["elapsed_s"])
    return {
        "device": ", ".join(info["devices"]["devices"])
        + (f" x{workers} workers" if workers else ""),
        "backend": info["devices"]["backend"],
        "precision": info["devices"]["precision"],
        "trials": trials,
        "epochs": epochs,
        "search_s": seconds,
        "process_s": wall,
        "epochs_per_s": epochs / seconds if seconds else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="mixed", help="search space (preset or YAML)")
    parser.add_argument("--budget", type=int, default=150,
                        help="epochs of all fold models of all trials")  # fmt: skip
    parser.add_argument("--max-epochs", type=int, default=9, help="Hyperband's max_epochs")
    parser.add_argument("--mixed-precision", action="store_true", help="also time mixed precision")
    parser.add_argument("--devices", nargs="+", choices=("cpu", "gpu"), help="default: cpu + gpu")
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[0],
        help="also time with N local worker processes (0: one process), e.g. --workers 0 2",
    )  # fmt: skip
    args = parser.parse_args()

    devices = args.devices or (["cpu", "gpu"] if gpu_count() else ["cpu"])
    precisions = [False, True] if args.mixed_precision else [False]
    print(
        f"search: space {args.space}, budget {args.budget} epochs, max_epochs {args.max_epochs}, "
        f"embedded dataset, seed 0"
    )
    header = f"{'device':<54} {'backend':<10} {'precision':<15} {'trials':>6} {'epochs':>6}"
    print(header + f" {'search s':>9} {'epochs/s':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for device in devices:
            for mixed, workers in itertools.product(precisions, args.workers):
                r = run_search(device, mixed, workers, args, Path(folder))
                print(
                    f"{r['device'][:54]:<54} {r['backend']:<10} {r['precision']:<15} "
                    f"{r['trials']:>6} {r['epochs']:>6} {r['search_s']:>9.1f} "
                    f"{r['epochs_per_s']:>9.2f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
