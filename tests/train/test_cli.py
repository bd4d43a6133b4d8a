import subprocess
import sys

import yaml


def _provgan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "provgan", *args], capture_output=True, text=True)


def test_dry_run_shows_overrides_and_options():
    out = _provgan("train", "--config", "tiny", "--data", "x", "--out", "y", "--loss", "wgan-gp", "--kimg", "3",
                   "schedule.stable_kimg=2", "--dry-run")
    assert out.returncode == 0, out.stderr
    cfg = yaml.safe_load(out.stdout)
    assert cfg["loss"]["name"] == "wgan-gp" and cfg["schedule"]["total_kimg"] == 3.0
    assert cfg["schedule"]["stable_kimg"] == 2.0


def test_typo_is_one_line_error():
    out = _provgan("train", "--config", "tiny", "--data", "x", "--out", "y", "schedule.stabel_kimg=2")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: unknown key 'schedule.stabel_kimg' (did you mean 'stable_kimg'?)"]


def test_missing_store_is_one_line_error(tmp_path):
    out = _provgan("train", "--config", "tiny", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "r"))
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("error:")


def test_version_and_help():
    assert _provgan("--version").stdout.startswith("provgan, version")
    help_text = _provgan("--help").stdout
    for command in ("info", "prepare", "train"):
        assert command in help_text
