"""Is the exported model good? The default search and export, against the strong baselines.

For each search seed: ``houses-tune search`` (default space, the stated budget) on the
full dataset, then ``houses-tune export`` and ``houses-tune export --cv 5``, each timed as a
user would run them: the first export is what a user ships (the bag, evaluated on the test
split next to the baselines, which it trains and caches); the second adds the 5-fold
cross-validation (the split's baselines now cached), and its report is the one read here.
Prints on one screen the exported model's test MAPE on the tutorial split and its 5-fold
cross-validated MAPE next to ridge, gradient boosting and the tutorial networks on the same
rows and folds, the folds won against ridge, the spread over seeds, the wall times, and
the targets met or missed. Not a test: run it by hand, e.g.

    python benchmarks/quality.py                          # seeds 0 1 2, budget 3000
    python benchmarks/quality.py --seeds 0 --budget 1000  # a quicker look
    python benchmarks/quality.py --splits my-split.json   # another test split
    python benchmarks/quality.py --results-dir runs --reuse   # export runs kept earlier
    python benchmarks/quality.py --seeds 0 --ensembles 1 3    # one search, two exports
    python benchmarks/quality.py --bag-epochs 0 100   # the search's bag and the default
    python benchmarks/quality.py --candidates 1 5     # shipped as ranked, or the best of 5
    python benchmarks/quality.py --seeds 0 --reference-minutes 26.5   # like for like

The time target compares the search plus the first export with today's single-split
budget-600 search plus its (default) export: 29 minutes on the machine the issue was
measured on. Machines differ up to 2x, so measure that reference on the machine at hand
(``git archive f0b5d88``, then its ``search --budget 600`` and ``export``) and pass it as
``--reference-minutes``; start with an empty cache (``HOUSES_TUNE_CACHE``) so that the
first export trains its baselines.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from houses_tune.results.bag_stopping import BAG_EPOCHS

FULL_DATASET = Path(__file__).resolve().parents[1].parent / "shared/houses-dataset/Houses Dataset"
# What the issue asks of the default search and export (test MAPE on the tutorials' split,
# 5-fold CV MAPE, folds won against ridge, spread of the test MAPE over search seeds, and
# the wall time of search + export against today's single-split budget-600 run and its
# export, 29 minutes where the issue measured it; --reference-minutes for this machine's).
TARGETS = {"test": 18.5, "cv": 21.5, "folds_won": 4, "spread": 2.0, "minutes": 29.0}


class Row(NamedTuple):
    """One search seed and export: wall seconds of each command, and the metrics."""

    seed: int
    ensemble: int
    epochs: int  # export --max-epochs (0: the search's fold models)
    candidates: int  # export --candidates
    searched: float
    exported: float
    crossed: float  # the export --cv after the first export
    trained: int  # tutorial-network runs the first export trained (not cached)
    metrics: dict


def _timed(command: list[str], log: Path) -> float:
    started = time.perf_counter()
    with open(log, "w") as out:
        done = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}); see {log}")
    return time.perf_counter() - started


def _finished(run: Path) -> bool:
    try:
        return json.loads((run / "run.json").read_text())["status"] == "finished"
    except (OSError, ValueError, KeyError):
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=FULL_DATASET)
    parser.add_argument("--budget", default="3000", help="search budget (default 3000 epochs)")
    parser.add_argument("--space", default="mixed")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--splits", type=Path, help="a splits file for every search")
    parser.add_argument("--results-dir", type=Path, help="keep the runs here (default: temp)")
    parser.add_argument("--reuse", action="store_true",
                        help="export a finished run already in --results-dir instead of "
                        "searching again (its search time is read from run.json)")  # fmt: skip
    parser.add_argument(
        "--ensembles",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="export each search once per N (--ensemble N: the N best "
        "configurations bagged), side by side on the same folds",
    )
    parser.add_argument(
        "--no-baselines",
        action="store_true",
        help="export without the tutorial networks (the median, ridge and "
        "gradient boosting still run)",
    )
    parser.add_argument(
        "--bag-epochs",
        type=int,
        nargs="+",
        default=[BAG_EPOCHS],
        help="export each search once per value, side by side, with --max-epochs N: 0 ships "
        f"the search's fold models, N trains them again (default: {BAG_EPOCHS}, the "
        "export's default)",
    )
    parser.add_argument(
        "--candidates",
        type=int,
        nargs="+",
        default=[1],
        metavar="N",
        help="export each search once per N, side by side, with --candidates N: the best "
        "of the N best configurations' bags trained again (default: 1, export's default)",
    )
    parser.add_argument(
        "--reference-minutes",
        type=float,
        default=TARGETS["minutes"],
        help="the single-split budget-600 search plus export of the first version, "
        "measured on this machine (default: the issue's 29 minutes)",
    )
    parser.add_argument("extra", nargs="*", help="more search flags, after --")
    args = parser.parse_args()

    tune = [sys.executable, "-m", "houses_tune"]
    load = os.getloadavg()[0]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        results = args.results_dir or Path(scratch)
        results.mkdir(parents=True, exist_ok=True)
        for seed in args.seeds:
            run = results / f"quality-{seed}"
            search = [*tune, "search", "--dataset", str(args.dataset), "--space", args.space,
                      "--budget", args.budget, "--seed", str(seed), "--run", run.name,
                      "--results-dir", str(results), "--overwrite", *args.extra]  # fmt: skip
            if args.splits:
                search += ["--splits", str(args.splits)]
            if args.reuse and _finished(run):
                searched = json.loads((run / "run.json").read_text())["timing"]["elapsed_s"]
            else:
                searched = _timed(search, results / f"{run.name}-search.log")
            for n, epochs, pool in _exports(args):
                name = "best" + f"-ensemble-{n}" * (n > 1) + f"-epochs-{epochs}"
                name += f"-candidates-{pool}" * (pool > 1)
                out = run / name
                export = [*tune, "export", str(run), "--ensemble", str(n), "--out", str(out),
                          "--max-epochs", str(epochs), "--candidates", str(pool)]  # fmt: skip
                if args.no_baselines:
                    export.append("--no-baselines")
                exported = _timed(export, results / f"{run.name}-{name}.log")
                trained = _baselines_trained(out / "metrics.json")
                crossed = _timed([*export, "--cv", str(args.cv)],
                                 results / f"{run.name}-{name}-cv.log")  # fmt: skip
                metrics = json.loads((out / "metrics.json").read_text())
                rows.append(
                    Row(seed, n, epochs, pool, searched, exported, crossed, trained, metrics)
                )
                print(f"seed {seed}, ensemble {n}, bag epochs {epochs}, candidates {pool}: search "
                      f"{searched / 60:.1f} min, export {exported / 60:.1f} min, export --cv "
                      f"{crossed / 60:.1f} min, test {metrics['test']['mape']:.2f}%",
                      file=sys.stderr, flush=True)  # fmt: skip

    first = rows[0].metrics
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
          f"load {load:.2f} at the start; backend {first['backend']}")  # fmt: skip
    print(f"dataset {args.dataset} ({first['dataset']['houses']} houses; search "
          f"{first['split']['search']}, test {first['split']['test']}); space {args.space}, "
          f"budget {args.budget}, {first['exported']['folds']} folds; "
          f"export --cv {args.cv}")  # fmt: skip
    print("export: the first `export` of the run (baselines trained = its tutorial networks "
          "were not cached yet); --cv: the `export --cv` after it")  # fmt: skip
    print(f"\n{'seed':>4} {'search':>8} {'export':>8} {'--cv':>8} {'trials':>7} {'exported':>22} "
          f"{'test MAPE':>10} {'CV MAPE':>15} {'vs ridge':>9}  baselines")  # fmt: skip
    for seed, _, epochs, _, searched, exported, crossed, trained, m in rows:
        cv = m["cv"]["models"]["exported model"]
        what = f"{m['exported']['members']} models of {m['exported']['trials'][0]['id']}"
        what += f" ({epochs} ep)" if epochs else ""
        won = f"{m['cv']['folds_won_vs_ridge']}/{m['cv']['k']}"
        print(f"{seed:>4} {searched / 60:7.1f}m {exported / 60:7.1f}m {crossed / 60:7.1f}m "
              f"{m['trials']['total']:>7} {what:>22} {m['test']['mape']:9.2f}% "
              f"{cv['score_mean']:8.2f} ± {cv['score_std']:4.2f} {won:>9}  "
              f"{trained} trained")  # fmt: skip
    for row in rows:
        if ranking := row.metrics["exported"].get("candidates"):
            print(f"seed {row.seed}, candidates (validation MAPE: search -> bag trained again): "
                  + ", ".join(f"{c['id']} {c['search_score']:.2f} -> {_number(c['bag_score'])}"
                              + " (shipped)" * c["shipped"] for c in ranking))  # fmt: skip
    print("\nbaselines, same rows and folds (test MAPE; CV mean ± std):")
    for label, baseline in first["baselines"].items():
        cv = first["cv"]["models"].get(label)
        cv_text = f"{cv['score_mean']:.2f} ± {cv['score_std']:.2f}" if cv else "-"
        print(f"  {label:<32} {baseline['test_score']:8.2f}%   {cv_text}")
    for row in rows:
        print(f"\nverdict (seed {row.seed}, {_label(row.ensemble, row.epochs, row.candidates)}):"
              f" {row.metrics['verdict']['sentence']}")  # fmt: skip
    for export in _exports(args):
        same = [row for row in rows if (row.ensemble, row.epochs, row.candidates) == export]
        _check(same, _label(*export), args.reference_minutes)


def _exports(args) -> list[tuple[int, int, int]]:
    """``(--ensemble, --max-epochs, --candidates)`` of every export of a search (candidates
    are bags trained again: none with --max-epochs 0)."""
    every = [(n, e, c) for n in args.ensembles for e in args.bag_epochs for c in args.candidates]
    return [(n, e, c) for n, e, c in every if e or c <= n]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _label(ensemble: int, epochs: int, candidates: int) -> str:
    return f"ensemble {ensemble}, bag epochs {epochs}, candidates {candidates}"


def _baselines_trained(metrics: Path) -> int:
    """How many tutorial-network runs the export trained rather than found cached."""
    baselines = json.loads(metrics.read_text())["baselines"].values()
    return sum(not cached for b in baselines for cached in b.get("cached", []))


def _check(rows: list[Row], export: str, reference: float) -> None:
    """The targets, over the seeds, for one export (--ensemble, --bag-epochs)."""
    tests = [row.metrics["test"]["mape"] for row in rows]
    cvs = [row.metrics["cv"]["models"]["exported model"]["score_mean"] for row in rows]
    won = [row.metrics["cv"]["folds_won_vs_ridge"] for row in rows]
    minutes = [(row.searched + row.exported) / 60 for row in rows]
    with_cv = [(row.searched + row.exported + row.crossed) / 60 for row in rows]
    spread = max(tests) - min(tests)
    print(f"\n{export}: test MAPE over seeds: {', '.join(f'{t:.2f}' for t in tests)} "
          f"(spread {spread:.2f})")  # fmt: skip
    checks = [
        (f"test MAPE <= {TARGETS['test']}%", max(tests) <= TARGETS["test"],
         f"worst {max(tests):.2f}"),
        (f"5-fold CV <= {TARGETS['cv']}%", max(cvs) <= TARGETS["cv"], f"worst {max(cvs):.2f}"),
        (f"ridge beaten on >= {TARGETS['folds_won']} folds", min(won) >= TARGETS["folds_won"],
         f"fewest {min(won)}"),
        (f"spread over seeds < {TARGETS['spread']}", spread < TARGETS["spread"],
         f"{spread:.2f}" if len(rows) > 1 else "one seed"),
        (f"search + export < {reference:g} min", max(minutes) < reference,
         f"slowest {max(minutes):.1f} min ({max(with_cv):.1f} with the export --cv after it)"),
    ]  # fmt: skip
    for name, met, detail in checks:
        print(f"  {'met   ' if met else 'MISSED'} {name:<36} {detail}")


if __name__ == "__main__":
    main()
