"""Tests for examples/make_listings.py, run as a script in a subprocess."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import cv2

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "make_listings.py"
HEADER = ["id", "area", "age", "neighbourhood", "front", "kitchen", "garden", "price"]


def run_script(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Runs make_listings.py with 12 rows into ``out``."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--rows", "12", *extra],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_make_listings(tmp_path: Path) -> None:
    out = tmp_path / "listings"
    result = run_script(out, "--seed", "3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"wrote 12 listings to {out} (listings.csv, listings.yaml, photos/)"
    )

    with open(out / "listings.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == HEADER
    body = rows[1:]
    assert len(body) == 12
    assert [r[0] for r in body] == [f"L{i:03d}" for i in range(1, 13)]
    for row in body:
        record = dict(zip(HEADER, row, strict=True))
        assert 40 <= float(record["area"]) <= 250
        assert 0 <= int(record["age"]) <= 80
        assert record["neighbourhood"] in {"harbour", "old_town", "hills", "riverside"}
        assert float(record["price"]) > 0
        for column in ("front", "kitchen", "garden"):
            rel = record[column]
            assert rel == f"photos/{record['id']}_{column}.jpg"
            image = cv2.imread(str(out / rel))
            assert image is not None, rel
            assert image.shape == (64, 64, 3)

    dataset = (out / "listings.yaml").read_text(encoding="utf-8")
    assert "csv: listings.csv" in dataset
    assert "target: price" in dataset
    assert "categorical: [neighbourhood]" in dataset
    assert "images: [front, kitchen, garden]" in dataset

    # Deterministic: the same seed gives the same CSV, byte for byte.
    again = tmp_path / "again"
    assert run_script(again, "--seed", "3").returncode == 0
    assert (again / "listings.csv").read_bytes() == (out / "listings.csv").read_bytes()

    # A non-empty OUT is refused with one line on stderr, unless --force.
    refused = run_script(out, "--seed", "3")
    assert refused.returncode == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert refused.stdout == ""
    assert run_script(out, "--seed", "3", "--force").returncode == 0
