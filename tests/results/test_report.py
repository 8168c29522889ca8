"""Report rendering from a summary (the content of metrics.json), without training anything."""

from __future__ import annotations

import base64

from houses_tune.results.report import render

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def summary() -> dict:
    trial = {"id": "0007", "val_score": 21.5, "val_score_std": 1.25, "fold_scores": [20.25, 22.75],
             "epochs": 9, "best_epoch": 7,
             "hyperparameters": {"tile": 32, "modality": "mixed", "loss": "<mape>"}}  # fmt: skip
    return {
        "run": "results/r1",
        "run_status": "finished",
        "exported": {"kind": "bag", "members": 2, "folds": 2, "trials": [trial]},
        "seed": 0,
        "test": {
            "n": 91,
            "score": 20.0,
            "mape": 20.0,
            "mape_std": 15.5,
            "median_ape": 16.25,
            "mae": 123456.4,
            "rmse": 234567.8,
            "r2": 0.61,
            "within_10": 30.8,
            "within_20": 56.0,
            "per_group": {"92880": {"n": 20, "score": 12.34}},
        },  # fmt: skip
        "baselines": {
            "tutorial MLP (attributes)": {
                "test_score": 22.71,
                "beaten": True,
                "reference_mape": 22.71,
                "seeds": [0],
                "seed_scores": [22.71],
                "cached": [True],
            },
            "ridge on log price": {"test_score": 19.5, "beaten": False, "reference_mape": 19.65},
            "per-group median price": {
                "test_score": 20.001,
                "beaten": True,
                "reference_mape": None,
            },
        },  # fmt: skip
        "baseline_epochs": 200,
        "verdict": {
            "sentence": "The exported model is not clearly better or worse than the "
            "best baseline, ridge on log price: numbers."
        },  # fmt: skip
        "cv": {
            "k": 3,
            "houses": 362,
            "seed": 0,
            "fold_sizes": [121, 121, 120],
            "models": {
                "exported model": {
                    "fold_scores": [19.0, 21.0, 23.0],
                    "score_mean": 21.0,
                    "score_std": 1.63,
                },
                "ridge on log price": {
                    "fold_scores": [20.0, 24.0, 22.0],
                    "score_mean": 22.0,
                    "score_std": 1.63,
                },
            },
            "ridge": "ridge on log price",
            "difference_to_ridge": [-1.0, -3.0, 1.0],
            "folds_won_vs_ridge": 2,
        },  # fmt: skip
        "dataset": {
            "folder": "/data/Houses Dataset",
            "fingerprint": "ab" * 32,
            "houses_total": 535,
            "houses": 362,
            "min_group_count": ["zipcode", 25],
            "group_column": "zipcode",
            "groups": 7,
            "target": "price",
        },  # fmt: skip
        "split": {"search": 271, "test": 91, "folds": 2, "validation_sizes": [136, 135]},
        "top_trials": [trial],
        "timing": {"search_seconds": 3725.0, "export_seconds": 61.2},
        "backend": "jax",
        "versions": {"python": "3.11.7", "keras": "3.15.1"},
    }


def test_markdown_and_html_hold_the_same_numbers():
    images = {"predicted_vs_actual": PNG, "trials": PNG}
    markdown = render(summary(), images, "markdown")
    page = render(summary(), images, "html")
    for text in (markdown, page):
        for expected in ("20.00%", "15.50", "16.25%", "$123,456", "$234,568", "0.610",
                         "30.8%", "56.0%", "92880", "12.34%", "22.71%", "19.50%",
                         "21.00% ± 1.63", "22.00% ± 1.63", "+1.00", "-3.00", "better than "
                         "ridge on log price on 2 of 3 folds", "0007", "21.50% ± 1.25",
                         "20.2 22.8", "271", "91", "62 min 5 s", "a bag of the 2 fold models",
                         "1 of these 1 trainings were reused from the baseline cache",
                         "not clearly better or worse"):  # fmt: skip
            assert expected in text, expected
    assert "![Validation MAPE vs epochs of every trial](plots/trials.png)" in markdown
    assert page.count("data:image/png;base64,") == 2
    assert "&lt;mape&gt;" in page and "<mape>" not in page  # values are escaped
    assert "<strong>The exported model is not clearly" in page
    assert "**The exported model is not clearly" in markdown
    assert "| tutorial MLP (attributes) | 22.71% | yes | 22.71% |" in markdown
    assert "| metric | value |\n|---|---|\n| MAPE | 20.00% (std 15.50) |\n" in markdown


def test_baseline_lines_say_plainly_who_won():
    markdown = render(summary(), {}, "markdown")
    assert ("On the test split the export beat the tutorial MLP (attributes): 20.00% vs 22.71% "
            "(-2.71 points).") in markdown  # fmt: skip
    assert "the export did NOT beat the ridge on log price" in markdown
    assert "the export tied with the per-group median price" in markdown


def test_no_baselines_report_does_not_claim_tutorial_networks_were_trained():
    without = {**summary(), "baseline_epochs": None}
    for fmt in ("markdown", "html"):
        text = render(without, {"trials": PNG}, fmt)
        assert "None epochs" not in text and "Tutorial networks trained" not in text
        assert "References are published numbers" in text
    assert "Tutorial networks trained 200 epochs" in render(summary(), {}, "markdown")


def test_a_refit_export_says_so():
    refit = summary()
    refit["exported"] = {**refit["exported"], "kind": "refit", "members": 1}
    text = render(refit, {}, "markdown")
    assert "a refit of trial 0007 on all 271 search houses" in text
    assert "kept for comparison" in text
