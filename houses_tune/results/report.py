"""The export report: report.md and report.html from one Jinja2 template, plus the plots.

``templates/report.j2`` holds the report's content once; ``templates/markdown.j2`` and
``templates/html.j2`` say how to write headings, paragraphs, tables and images in each
format, so both files always hold the same numbers. The HTML inlines its plots as base64
PNG and needs no other file; the Markdown links the PNG files written in ``plots/``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from houses_tune.objective import Objective, get_objective

PLOT_TITLES = {
    "predicted_vs_actual": "Predicted vs actual price (test)",
    "error_distribution": "Distribution of {errors} (test)",
    "learning_curves": "Learning curves of the exported models",
    "trials": "Validation {label} vs epochs of every trial",
}


def _objective(summary: dict) -> Objective:
    return get_objective(summary.get("objective"))


def _positive(summary: dict) -> bool:
    """Every target positive: errors in percent and a bag averaged in log-price space."""
    return summary["dataset"].get("positive", True)


def write_report(folder: Path, summary: dict, table, run_dir, chosen, members, trials) -> None:
    """Write plots/, metrics.json, report.md and report.html into ``folder``."""
    from houses_tune.results import plots

    objective = _objective(summary)
    scored = [t for t in trials if t.score is not None]
    best = next((i for i, t in enumerate(scored) if t.trial_id == chosen[0].trial_id), None)
    percent = _positive(summary)  # predictions.csv has error_pct, else error
    images = {
        "predicted_vs_actual": plots.predicted_vs_actual(
            table[summary["dataset"].get("target", "price")], table["predicted"]
        ),
        "error_distribution": plots.error_distribution(
            table["error_pct" if percent else "error"], percent
        ),
        "learning_curves": plots.learning_curves(_curves(run_dir, chosen, members, summary)),
        "trials": plots.trials_scatter(
            [t.epochs or 0 for t in scored], [t.score for t in scored], best, objective.label
        ),
    }
    (folder / "plots").mkdir()
    for name, png in images.items():
        (folder / "plots" / f"{name}.png").write_bytes(png)
    (folder / "metrics.json").write_text(json.dumps(summary, indent=2) + "\n")
    (folder / "report.md").write_text(render(summary, images, "markdown"))
    (folder / "report.html").write_text(render(summary, images, "html"))


def _curves(run_dir, chosen, members, summary) -> dict:
    """Validation score of each exported fold model, as export trained it (or as the
    search did, in its last round); for a refit, its training loss and score."""
    from houses_tune.tuner.monitor import trial_history

    objective = _objective(summary)
    if summary["exported"]["kind"] == "refit":
        return {
            key: {f"trial {m.trial_id}": m.history.get(key, []) for m in members}
            for key in ("loss", objective.metric)
        }
    first = chosen[0].trial_id
    if summary["exported"].get("trained_by") == "export":
        ours = (m for m in members if m.trial_id == first)
        lines = {f"fold {m.fold}": m.history.get(objective.monitor, []) for m in ours}
    else:
        folds = trial_history(run_dir.tuner_dir, first).get("folds", [])
        lines = {
            f"fold {f['fold']}": f.get("history", {}).get(objective.monitor, []) for f in folds
        }
    return {f"trial {first}: validation {objective.label} per fold": lines}


def render(summary: dict, images: dict[str, bytes], fmt: str) -> str:
    """The report in ``fmt`` (``"markdown"`` or ``"html"``)."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("houses_tune.results", "templates"),
        autoescape=fmt == "html",
        trim_blocks=True,
        keep_trailing_newline=True,
    )
    template = environment.get_template("report.j2")
    return template.render(format_file=f"{fmt}.j2", **context(summary, images))


def context(summary: dict, images: dict[str, bytes]) -> dict:
    """Everything the template shows, as text (numbers formatted here, in one place)."""
    test, exported = summary["test"], summary["exported"]
    items, objective = _items(summary), _objective(summary)
    return {
        "verdict": summary["verdict"]["sentence"],
        "items": items,
        "label": objective.label,
        "lead": _lead(summary),
        "verdicts": _baseline_lines(summary),
        "caveat": (
            f"With {test['n']} test {items} one split's {objective.label} moves "
            + ("by several points; " if objective.needs_positive else "a lot; ")
            + (
                "the cross-validation below is the firmer comparison."
                if summary.get("cv")
                else '"houses-tune export --cv K" gives a cross-validated estimate.'
            )
        ),
        "metrics": _metric_rows(test, items, objective),
        "group": summary["dataset"].get("group_column"),
        "zips": [
            [z, v["n"], objective.format(v["score"])] for z, v in test.get("per_group", {}).items()
        ],
        "baselines": _baseline_rows(summary),
        "baseline_note": _baseline_note(summary),
        "cv": _cv(summary["cv"], items, objective) if summary.get("cv") else None,
        "plots": [
            {
                "name": name,
                "title": PLOT_TITLES.get(name, name).format(
                    label=objective.label,
                    errors="percentage errors" if _positive(summary) else "errors",
                ),
                "data": base64.b64encode(png).decode("ascii"),
            }
            for name, png in images.items()
        ],
        "exported": [
            {
                "id": t["id"],
                "score": f"validation {objective.label} {_score(t, objective)} over "
                f"{exported['folds']} "
                + ("folds" if exported["folds"] > 1 else "validation split"),
                "hyperparameters": [[k, _num(v)] for k, v in sorted(t["hyperparameters"].items())],
            }
            for t in exported["trials"]
        ],
        "candidates": [
            [
                c["id"],
                objective.format(c["search_score"]),
                objective.format(c["bag_score"]),
                "shipped" if c["shipped"] else "",
            ]
            for c in exported.get("candidates", [])
        ],
        "top_trials": [
            [
                t["id"],
                _score(t, objective),
                " ".join(_num(s, 3) for s in t["fold_scores"]),
                t["epochs"],
                t["best_epoch"],
                ", ".join(f"{k}={_num(v)}" for k, v in sorted(t["hyperparameters"].items())),
            ]
            for t in summary["top_trials"]
        ],
        "dataset": _dataset_rows(summary),
        "versions": [[name, version] for name, version in summary["versions"].items()]
        + [
            ["backend", summary["backend"]],
            ["search wall time", _duration(summary["timing"]["search_seconds"])],
            ["export wall time", _duration(summary["timing"]["export_seconds"])],
        ],
        "data": json.dumps(summary, indent=1),
    }


def _metric_rows(test: dict, items: str, objective: Objective) -> list[list[str]]:
    """The test metrics table: the percentage ones only where every target is positive."""
    rows = []
    if test["mape"] is not None:
        rows += [
            ["MAPE", f"{test['mape']:.2f}% (std {test['mape_std']:.2f})"],
            ["median absolute % error", f"{test['median_ape']:.2f}%"],
        ]
    # A MAPE run's target is a price (dollars); an MAE run's is in its own units.
    amount = (lambda v: f"${v:,.0f}") if objective.needs_positive else objective.number
    rows += [
        ["MAE", amount(test["mae"])],
        ["RMSE", amount(test["rmse"])],
        ["R²", f"{test['r2']:.3f}"],
    ]
    if test["within_10"] is not None:
        rows += [
            ["within 10%", f"{test['within_10']:.1f}% of {items}"],
            ["within 20%", f"{test['within_20']:.1f}% of {items}"],
        ]
    return rows


def _items(summary: dict) -> str:
    """What the rows are called: ``houses`` for the Houses Dataset, else ``rows``."""
    return summary["dataset"].get("items", "houses")


def _lead(summary: dict) -> str:
    test, exported, items = summary["test"], summary["exported"], _items(summary)
    ids = ", ".join(t["id"] for t in exported["trials"])
    if exported["kind"] == "refit":
        what = (
            f"a refit of trial {ids} on all {summary['split']['search']} search {items} "
            "for its mean best epoch (kept for comparison: the bag is the default)"
        )
    else:
        space = "in log-price space" if _positive(summary) else "as they are"
        if exported.get("trained_by") == "export":
            what = (
                f"a bag of {exported['members']} fold models of trial {ids}, trained again on "
                f"the search's folds until their validation {_objective(summary).label} had "
                f"not improved for {exported['patience']} epochs (at most "
                f"{exported['max_epochs']}), averaged {space}"
            )
            if candidates := exported.get("candidates"):
                what += (
                    f", the best by that validation {_objective(summary).label} of the bags "
                    f"of the {len(candidates)} best trials, trained so (Candidates below)"
                )
        else:
            what = (
                f"a bag of the {exported['members']} fold models the search trained for trial "
                f"{ids}, averaged {space}"
            )
    status = "" if summary["run_status"] == "finished" else f" (run {summary['run_status']})"
    objective = _objective(summary)
    return (
        f"Run {summary['run']}{status}: exported {what}, evaluated once on "
        f"{test['n']} test {items} the search never saw: test {objective.label} "
        f"{objective.format(test['score'])}."
    )


def _baseline_lines(summary: dict) -> list[str]:
    objective = _objective(summary)
    ours = summary["test"]["score"]
    lines = []
    for label, baseline in summary["baselines"].items():
        theirs = baseline["test_score"]
        verb = "beat" if baseline["beaten"] else "did NOT beat"
        if objective.format(ours) == objective.format(theirs):
            verb = "tied with"
        lines.append(
            f"On the test split the export {verb} the {label}: {objective.format(ours)} vs "
            f"{objective.format(theirs)} ({objective.difference(ours - theirs)})."
        )
    return lines


def baseline_score(baseline: dict, objective: Objective) -> str:
    """A baseline's (median) test score, with the min-max range over several seeds.

    Example: ``"25.33% (median of 3 seeds; 23.50–33.00%)"``.
    """
    text = objective.format(baseline["test_score"])
    scores = baseline.get("seed_scores") or []
    if len(scores) > 1:
        low, high = objective.number(min(scores)), objective.format(max(scores))
        text += f" (median of {len(scores)} seeds; {low}–{high})"
    return text


def _baseline_rows(summary: dict) -> list[list]:
    objective = _objective(summary)
    rows = [["exported model", objective.format(summary["test"]["score"]), "", ""]]
    for label, baseline in summary["baselines"].items():
        reference = baseline.get("reference_mape")
        rows.append(
            [
                label,
                baseline_score(baseline, objective),
                "yes" if baseline["beaten"] else "no",
                "" if reference is None else f"{reference:.2f}%",
            ]
        )
    return rows


def _baseline_note(summary: dict) -> str:
    note = (
        "References are published numbers (tutorial networks) or this project's measurements "
        "on the tutorials' split, for orientation only."
    )
    tutorial = [b for b in summary["baselines"].values() if "seeds" in b]
    if summary.get("baseline_epochs") is None or not tutorial:  # --no-baselines
        return note
    seeds = tutorial[0]["seeds"]
    cached = sum(sum(b["cached"]) for b in tutorial)
    runs = sum(len(b["cached"]) for b in tutorial)
    times = (
        f"once, with seed {seeds[0]}: another seed moves a tutorial network's MAPE by a few points"
        if len(seeds) == 1
        else f"{len(seeds)} times, with seeds {', '.join(map(str, seeds))}: a network's test MAPE "
        "is the median over its seeds (their range in brackets), and the verdict compares "
        "with the median"
    )
    reuse = (
        f" {cached} of these {runs} trainings were reused from the baseline cache (same "
        "data, rows, seed, epochs and library versions)."
        if cached
        else ""
    )
    return (
        f"Tutorial networks trained {summary['baseline_epochs']} epochs on the same "
        f"{_items(summary)} as "
        f"the exported model, {times}.{reuse} {note}"
    )


def _cv(cv: dict, items: str, objective: Objective) -> dict:
    from houses_tune.results.crossval import EXPORTED

    k, ridge = cv["k"], cv["ridge"]
    label_ = objective.label
    headers = ["model", f"{label_} (mean ± std)", *[f"fold {i}" for i in range(1, k + 1)]]
    rows = [
        [
            label,
            f"{objective.format(m['score_mean'])} ± {objective.number(m['score_std'])}",
            *[objective.format(v) for v in m["fold_scores"]],
        ]
        for label, m in cv["models"].items()
    ]
    differences = [objective.signed(d) for d in cv["difference_to_ridge"]]
    rows.append([f"exported minus {ridge}", "", *differences])
    ours = cv["models"][EXPORTED]
    return {
        "title": f"{k}-fold cross-validation",
        "lead": (
            f"The whole pipeline, trained anew in each of {k} folds of all {cv['houses']} "
            f"{items}, and every baseline on the same folds: exported pipeline "
            f"{objective.format(ours['score_mean'])} ± {objective.number(ours['score_std'])}; "
            f"better than {ridge} on {cv['folds_won_vs_ridge']} of {k} folds."
        ),
        "headers": headers,
        "rows": rows,
        "note": (
            "Each tutorial network trains once per fold (seed "
            f"{cv['seed']}); the spread over folds shows how much it varies."
        ),
    }


def _dataset_rows(summary: dict) -> list[list]:
    dataset, split = summary["dataset"], summary["split"]
    items = dataset.get("items", "houses")
    houses = f"{dataset['houses']} of {dataset['houses_total']}"
    if dataset.get("min_group_count"):
        column, count = dataset["min_group_count"]
        houses += f" ({dataset['groups']} values of {column} with at least {count} rows)"
    sizes = ", ".join(map(str, split["validation_sizes"]))
    folds = (
        f"{split['folds']} folds (validation {items} {sizes})"
        if split["folds"] > 1
        else f"1 validation split of {split['validation_sizes'][0]} {items}"
    )
    return [
        ["folder", dataset["folder"]],
        ["fingerprint", str(dataset["fingerprint"])[:16]],
        [items, houses],
        ["split", f"search {split['search']}, test {split['test']}; the search scored on {folds}"],
    ]


def _score(trial: dict, objective: Objective) -> str:
    if trial["val_score"] is None:
        return "-"
    std = trial.get("val_score_std")
    spread = "" if std is None else f" ± {objective.number(std)}"
    return f"{objective.format(trial['val_score'])}{spread}"


def _num(value, digits: int = 4) -> str:
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return "-" if value is None else str(value)


def _duration(seconds) -> str:
    if seconds is None:
        return "unknown"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"
