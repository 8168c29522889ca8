"""Report rendering from a summary (the content of metrics.json), without training anything."""

from __future__ import annotations

import base64

from houses_tune.results.report import render_html, render_markdown, verdicts

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def summary() -> dict:
    trial = {"id": "0007", "val_mape": 21.5, "epochs": 9, "best_epoch": 7,
             "hyperparameters": {"tile": 32, "modality": "mixed", "loss": "<mape>"}}  # fmt: skip
    return {
        "run": "results/r1",
        "trial": {**trial, "epochs_refit": 7},
        "seed": 0,
        "test": {
            "n": 91,
            "mape": 20.0,
            "mape_std": 15.5,
            "median_ape": 16.25,
            "mae": 123456.4,
            "rmse": 234567.8,
            "r2": 0.61,
            "within_10": 30.8,
            "within_20": 56.0,
            "mape_per_zip": {"92880": {"n": 20, "mape": 12.34}},
        },  # fmt: skip
        "baselines": {
            "tutorial MLP (attributes)": {
                "test_mape": 22.71,
                "beaten": True,
                "reference_mape": 22.71,
            },
            "ridge on log price": {"test_mape": 19.5, "beaten": False, "reference_mape": 19.5},
            "per-zip median price": {"test_mape": 20.001, "beaten": True, "reference_mape": None},
        },  # fmt: skip
        "baseline_epochs": 200,
        "cv": {
            "k": 3,
            "houses": 362,
            "fold_sizes": [121, 121, 120],
            "fold_mape": [19.0, 21.0, 23.0],
            "mape_mean": 21.0,
            "mape_std": 1.63,
        },  # fmt: skip
        "dataset": {
            "folder": "/data/Houses Dataset",
            "fingerprint": "ab" * 32,
            "houses_total": 535,
            "houses": 362,
            "min_zip_count": 25,
            "zip_codes": 7,
        },  # fmt: skip
        "split": {"train": 216, "val": 55, "test": 91, "refit": 271},
        "top_trials": [trial],
        "timing": {"search_seconds": 3725.0, "export_seconds": 61.2},
        "versions": {"python": "3.11.7", "keras": "3.15.1"},
    }


def test_verdicts_say_plainly_who_won():
    lines = verdicts(summary())
    assert lines[0] == (
        "The search beat the tutorial MLP (attributes): test MAPE 20.00% vs 22.71% (-2.71 points)."
    )
    assert lines[1].startswith("The search did NOT beat the ridge on log price")
    assert lines[2].startswith("The search tied with the per-zip median price")


def test_markdown_and_html_hold_the_same_numbers():
    plots = {"predicted_vs_actual": PNG, "trials": PNG}
    markdown = render_markdown(summary(), list(plots))
    page = render_html(summary(), plots)
    for text in (markdown, page):
        for expected in ("20.00%", "15.50", "16.25%", "$123,456", "$234,568", "0.610",
                         "30.8%", "56.0%", "92880", "12.34%", "22.71%", "19.50%",
                         "21.00% ± 1.63", "0007", "216", "91", "62 min 5 s"):  # fmt: skip
            assert expected in text, expected
    assert "![Validation MAPE vs epochs of every trial](plots/trials.png)" in markdown
    assert page.count("data:image/png;base64,") == 2
    assert "&lt;mape&gt;" in page and "<mape>" not in page  # values are escaped
    assert "<strong>test MAPE 20.00%</strong>" in page


def test_no_baselines_report_does_not_claim_tutorial_networks_were_trained():
    without = {**summary(), "baseline_epochs": None}
    for text in (render_markdown(without, ["trials"]), render_html(without, {"trials": PNG})):
        assert "None epochs" not in text and "Tutorial networks trained" not in text
        assert "References are the published numbers" in text
    assert "Tutorial networks trained 200 epochs" in render_markdown(summary(), ["trials"])
