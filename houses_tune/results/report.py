"""Render the export's summary (the content of ``metrics.json``) as Markdown and HTML.

Both formats come from one list of sections (paragraphs, tables, images), so they always
hold the same numbers. The HTML inlines its plots as base64 PNG and needs no other file;
the Markdown links the PNG files written beside it in ``plots/``.
"""

from __future__ import annotations

import base64
import html
import json
import re

PLOT_TITLES = {
    "predicted_vs_actual": "Predicted vs actual price (test)",
    "error_distribution": "Distribution of percentage errors (test)",
    "learning_curves": "Learning curves of the final fit",
    "trials": "Validation MAPE vs epochs of every trial",
}


def verdicts(summary: dict) -> list[str]:
    """One plain sentence per baseline: did the exported model beat it on the test split?"""
    ours = summary["test"]["mape"]
    lines = []
    for label, baseline in summary["baselines"].items():
        theirs = baseline["test_mape"]
        verb = "beat" if baseline["beaten"] else "did NOT beat"
        if round(ours, 2) == round(theirs, 2):
            verb = "tied with"
        lines.append(
            f"The search {verb} the {label}: test MAPE {ours:.2f}% vs {theirs:.2f}% "
            f"({ours - theirs:+.2f} points)."
        )
    return lines


def sections(summary: dict, plots: list[str]) -> list[tuple[str, list[tuple]]]:
    """The report's content as ``(heading, blocks)`` pairs.

    A block is ``("p", text)``, ``("table", headers, rows)`` or ``("img", plot_name)``.
    """
    out = [
        ("Summary", _summary_blocks(summary)),
        ("Test metrics", [_metrics_table(summary["test"])]),
        ("MAPE per zip code", [_zip_table(summary["test"])]),
        ("Baselines (same split, trained in this export)", _baseline_blocks(summary)),
    ]
    cv = summary.get("cv")
    if cv:
        out.append((f"{cv['k']}-fold cross-validation", _cv_blocks(cv)))
    out += [
        ("Plots", [("img", name) for name in plots]),
        ("Best hyperparameters", [_hyperparameter_table(summary["trial"]["hyperparameters"])]),
        ("Top trials", [_trials_table(summary["top_trials"])]),
        ("Dataset and split", [_dataset_table(summary["dataset"], summary["split"])]),
        ("Versions and timing", [_versions_table(summary)]),
    ]
    return out


def _summary_blocks(summary: dict) -> list[tuple]:
    test, trial = summary["test"], summary["trial"]
    lead = (
        f"Run `{summary['run']}`, trial {trial['id']} (validation MAPE "
        f"{_num(trial['val_mape'])}%), refit on train + validation for "
        f"{trial['epochs_refit']} epochs with seed {summary['seed']}, evaluated once on "
        f"{test['n']} test houses: **test MAPE {test['mape']:.2f}%**."
    )
    caveat = f"With {test['n']} test houses one split's MAPE moves by several points; " + (
        "the cross-validation below is the firmer comparison."
        if summary.get("cv")
        else "`houses-tune export --cv K` gives a cross-validated estimate."
    )
    return [("p", lead), *[("p", line) for line in verdicts(summary)], ("p", caveat)]


def _metrics_table(test: dict) -> tuple:
    return ("table", ["metric", "value"], [
        ["MAPE", f"{test['mape']:.2f}% (std {test['mape_std']:.2f})"],
        ["median absolute % error", f"{test['median_ape']:.2f}%"],
        ["MAE", f"${test['mae']:,.0f}"],
        ["RMSE", f"${test['rmse']:,.0f}"],
        ["R²", f"{test['r2']:.3f}"],
        ["within 10%", f"{test['within_10']:.1f}% of houses"],
        ["within 20%", f"{test['within_20']:.1f}% of houses"],
    ])  # fmt: skip


def _zip_table(test: dict) -> tuple:
    rows = [[z, v["n"], f"{v['mape']:.2f}%"] for z, v in test.get("mape_per_zip", {}).items()]
    return ("table", ["zip code", "test houses", "MAPE"], rows)


def _baseline_blocks(summary: dict) -> list[tuple]:
    rows = [["**exported model (search)**", f"**{summary['test']['mape']:.2f}%**", "", ""]]
    for label, baseline in summary["baselines"].items():
        reference = baseline.get("reference_mape")
        rows.append([
            label,
            baseline_mape(baseline),
            "yes" if baseline["beaten"] else "no",
            "" if reference is None else f"{reference:.2f}%",
        ])  # fmt: skip
    headers = ["model", "test MAPE", "beaten by the search", "reference"]
    note = "References are the published numbers on the tutorials' split, for orientation only."
    if summary.get("baseline_epochs") is not None:  # None: --no-baselines
        # metrics.json of older exports has no seeds: those trained once with the run's seed.
        seeds = next(
            (b["seeds"] for b in summary["baselines"].values() if "seeds" in b), [summary["seed"]]
        )
        times = (
            f"once, with seed {seeds[0]}: another seed moves a tutorial network's MAPE by "
            "a few points"
            if len(seeds) == 1
            else f"{len(seeds)} times, with seeds {', '.join(map(str, seeds))}: a network's "
            "test MAPE is the median over its seeds (their range in brackets), and the "
            "verdict compares with the median"
        )
        note = (
            f"Tutorial networks trained {summary['baseline_epochs']} epochs on the same "
            f"training rows as the exported model, {times}. {note}"
        )
    return [("table", headers, rows), ("p", note)]


def baseline_mape(baseline: dict) -> str:
    """A baseline's (median) test MAPE, with the min-max range over several seeds.

    Example: ``"25.33% (median of 3 seeds; 23.50–33.00%)"``.
    """
    text = f"{baseline['test_mape']:.2f}%"
    scores = baseline.get("seed_mape") or []
    if len(scores) > 1:
        text += f" (median of {len(scores)} seeds; {min(scores):.2f}–{max(scores):.2f}%)"
    return text


def _cv_blocks(cv: dict) -> list[tuple]:
    line = (
        f"MAPE {cv['mape_mean']:.2f}% ± {cv['mape_std']:.2f} (mean ± std over {cv['k']} "
        f"folds of all {cv['houses']} houses)."
    )
    rows = [
        [fold + 1, size, f"{value:.2f}%"]
        for fold, (size, value) in enumerate(zip(cv["fold_sizes"], cv["fold_mape"], strict=True))
    ]
    return [("p", line), ("table", ["fold", "test houses", "MAPE"], rows)]


def _hyperparameter_table(values: dict) -> tuple:
    rows = [[name, _num(value)] for name, value in sorted(values.items())]
    return ("table", ["hyperparameter", "value"], rows)


def _trials_table(trials: list[dict]) -> tuple:
    headers = ["trial", "val MAPE", "epochs", "best epoch", "hyperparameters"]
    rows = [
        [
            t["id"],
            f"{_num(t['val_mape'])}%",
            t["epochs"],
            t["best_epoch"],
            ", ".join(f"{k}={_num(v)}" for k, v in sorted(t["hyperparameters"].items())),
        ]
        for t in trials
    ]
    return ("table", headers, rows)


def _dataset_table(dataset: dict, split: dict) -> tuple:
    houses = (
        f"{dataset['houses']} of {dataset['houses_total']} ({dataset['zip_codes']} zip codes "
        f"with at least {dataset['min_zip_count']} houses)"
    )
    splits = (
        f"train {split['train']}, validation {split['val']}, test {split['test']}; "
        f"final fit on {split['refit']} houses (train + validation)"
    )
    rows = [
        ["folder", dataset["folder"]],
        ["fingerprint", str(dataset["fingerprint"])[:16]],
        ["houses", houses],
        ["split", splits],
    ]
    return ("table", ["", ""], rows)


def _versions_table(summary: dict) -> tuple:
    timing = summary["timing"]
    rows = [[name, version] for name, version in summary["versions"].items()]
    rows += [
        ["search wall time", _duration(timing.get("search_seconds"))],
        ["export wall time", _duration(timing.get("export_seconds"))],
    ]
    return ("table", ["", ""], rows)


def render_markdown(summary: dict, plots: list[str]) -> str:
    """Markdown report; images link to ``plots/<name>.png``."""
    lines = ["# houses-tune export report", ""]
    for heading, blocks in sections(summary, plots):
        lines += [f"## {heading}", ""]
        for block in blocks:
            if block[0] == "p":
                lines += [block[1], ""]
            elif block[0] == "img":
                lines += [f"![{PLOT_TITLES.get(block[1], block[1])}](plots/{block[1]}.png)", ""]
            else:
                headers, rows = block[1], block[2]
                lines.append("| " + " | ".join(headers) + " |")
                lines.append("|" + "---|" * len(headers))
                lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
                lines.append("")
    return "\n".join(lines)


def render_html(summary: dict, plots: dict[str, bytes]) -> str:
    """Self-contained HTML report: styles and plots (base64 PNG) inline."""
    parts = []
    for heading, blocks in sections(summary, list(plots)):
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        for block in blocks:
            if block[0] == "p":
                parts.append(f"<p>{_inline(block[1])}</p>")
            elif block[0] == "img":
                data = base64.b64encode(plots[block[1]]).decode("ascii")
                title = html.escape(PLOT_TITLES.get(block[1], block[1]))
                parts.append(
                    f'<figure><img alt="{title}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{title}</figcaption></figure>"
                )
            else:
                head = "".join(f"<th>{html.escape(h)}</th>" for h in block[1])
                body = "".join(
                    "<tr>" + "".join(f"<td>{_inline(str(c))}</td>" for c in row) + "</tr>"
                    for row in block[2]
                )
                parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    data = html.escape(json.dumps(summary, indent=1))
    return _PAGE.format(body="\n".join(parts), data=data)


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>houses-tune export report</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 60em; margin: 2em auto; padding: 0 1em; }}
table {{ border-collapse: collapse; margin: 0.5em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }}
img {{ max-width: 100%; }} code {{ background: #f3f3f3; }}
</style></head><body>
<h1>houses-tune export report</h1>
{body}
<details><summary>metrics.json</summary><pre>{data}</pre></details>
</body></html>
"""


def _inline(text: str) -> str:
    # The only Markdown the sections use: **bold** and `code`.
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))
    return re.sub(r"`(.+?)`", r"<code>\1</code>", escaped)


def _md_cell(value) -> str:
    return str(value).replace("|", "\\|")


def _num(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _duration(seconds) -> str:
    if seconds is None:
        return "unknown"
    minutes, rest = divmod(float(seconds), 60)
    return f"{int(minutes)} min {rest:.0f} s" if minutes else f"{rest:.1f} s"
