"""``houses-tune data info|validate|download`` through the real entry point."""

import functools
import http.server
import threading
import zipfile
from pathlib import Path

import pytest

from houses_tune.cli import main


def run(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI; return (exit code, stdout, stderr)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as done:
        code = done.code
    out, err = capsys.readouterr()
    return code, out, err


def test_info_embedded(capsys, embedded_houses):
    code, out, _ = run(capsys, "data", "info")
    assert code == 0
    assert "362 of 535 rows (rows whose zipcode has >= 25 rows)" in out
    assert "zipcode      7 values" in out and "92276     100" in out
    assert "search 271 (max price 5,858,000), test 91" in out
    assert "5 folds (train/validation): 216/55, 217/54, 217/54, 217/54, 217/54" in out


def test_info_options(capsys, tiny_dataset):
    code, out, _ = run(
        capsys, "data", "info", "--dataset", str(tiny_dataset), "--min-zip-count", "0"
    )
    assert (
        code == 0
        and "40 of 40 rows (rows whose zipcode has >= 0 rows)" in out
        and "search 30" in out
    )
    code, out, _ = run(capsys, "data", "info", "--dataset", str(tiny_dataset),
                       "--min-zip-count", "0", "--folds", "1", "--val-size", "0.2")  # fmt: skip
    assert code == 0 and "1 validation split (train/validation): 24/6" in out


def test_info_bad_dataset_is_one_line(capsys, tiny_dataset):
    (tiny_dataset / "HousesInfo.txt").write_text("1 2 3\n")
    code, out, err = run(capsys, "data", "info", "--dataset", str(tiny_dataset))
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert err.startswith("Error: ") and "HousesInfo.txt line 1: expected 5 columns" in err


def test_info_filter_too_strict(capsys, tiny_dataset):
    code, _, err = run(capsys, "data", "info", "--dataset", str(tiny_dataset))
    assert code == 2 and "only 0 of 40 rows" in err and err.count("\n") == 1


def test_validate(capsys, tiny_dataset):
    code, out, err = run(capsys, "data", "validate", str(tiny_dataset))
    assert code == 0, err
    assert out.strip().endswith("valid")
    (tiny_dataset / "2_kitchen.jpg").unlink()
    (tiny_dataset / "3_frontal.jpg").write_bytes(b"junk")
    code, out, err = run(capsys, "data", "validate", str(tiny_dataset))
    assert code == 2
    assert out.splitlines() == [
        f"{tiny_dataset / '2_kitchen.jpg'} (house 2): photo missing",
        f"{tiny_dataset / '3_frontal.jpg'} (house 3): not a JPEG file",
    ]
    assert err.splitlines()[-1] == f"Error: {tiny_dataset}: 2 problem(s) found"


def test_validate_lists_implausible_values_as_warnings_and_passes(capsys, tiny_dataset):
    info = tiny_dataset / "HousesInfo.txt"
    lines = info.read_text().splitlines()
    lines[3] = "1.5 2 1500 11111 300000"
    info.write_text("\n".join(lines) + "\n")
    code, out, err = run(capsys, "data", "validate", str(tiny_dataset))
    assert code == 0, err
    assert out.splitlines() == [
        f"warning: {info} line 4: bedrooms 1.5 is not a whole number; used as it is",
        f"{tiny_dataset}: valid (1 warning(s))",
    ]


# --- download, against a local HTTP server -------------------------------------------------


@pytest.fixture
def server(tmp_path):
    """Serve ``tmp_path / "www"`` on 127.0.0.1; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def _zip_dataset(folder: Path, archive: Path, inner: str = "Houses-dataset-master") -> None:
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{inner}/README.md", "the Houses dataset\n")
        for path in folder.iterdir():
            zipped.write(path, f"{inner}/Houses Dataset/{path.name}")


def test_download(capsys, server, tiny_dataset, tmp_path):
    url, root = server
    _zip_dataset(tiny_dataset, root / "master.zip")
    dest = tmp_path / "new parent" / "Houses Dataset"
    code, out, err = run(capsys, "data", "download", str(dest), "--url", f"{url}/master.zip")
    assert code == 0, err
    assert out.strip() == str(dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(p.name for p in tiny_dataset.iterdir())
    assert list(dest.parent.iterdir()) == [dest]  # no temp folders left
    code, _, err = run(capsys, "data", "download", str(dest), "--url", f"{url}/master.zip")
    assert code == 2 and "already exists" in err


def _damage_missing_photo(folder: Path) -> None:
    (folder / "4_bedroom.jpg").unlink()


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "download failed"),
        ("not a zip", "not a zip archive"),
        ("no dataset", "the archive holds no HousesInfo.txt"),
        (
            "invalid",
            "invalid dataset (1 problems): <archive>/Houses-dataset-master/Houses "
            "Dataset/4_bedroom.jpg (house 4): photo missing",
        ),
    ],
)
def test_download_failures_write_nothing(capsys, server, tiny_dataset, tmp_path, case, message):
    url, root = server
    if case == "not a zip":
        (root / "master.zip").write_text("<html>moved</html>")
    elif case == "no dataset":
        with zipfile.ZipFile(root / "master.zip", "w") as zipped:
            zipped.writestr("repo/README.md", "nothing here")
    elif case == "invalid":
        _damage_missing_photo(tiny_dataset)
        _zip_dataset(tiny_dataset, root / "master.zip")
    target = tmp_path / "target"
    target.mkdir()
    code, out, err = run(
        capsys, "data", "download", str(target / "houses"), "--url", f"{url}/master.zip"
    )
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith("Error: ") and message in err
    assert list(target.iterdir()) == []
