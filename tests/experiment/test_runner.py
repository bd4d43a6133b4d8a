"""`provgan experiment table8` end to end on a tiny store: both tables, cached reruns, kill -9 and resume,
--dry-run, and one-line errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from provgan.experiment import systems as systems_mod
from provgan.metrics import features
from provgan.train import checkpoint as ckpt


class CheapI3D(torch.nn.Module):
    """Stands in for I3D (the real port is checked in tests/metrics/test_i3d.py): same input, no cost."""

    def forward(self, x):
        assert x.shape[1:] == (3, 16, 224, 224)
        logits = torch.nn.functional.adaptive_avg_pool3d(x, (4, 2, 2)).flatten(1)
        return logits, logits[:, :8]


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir()) if p.is_file()}


def _table8(cli, spec: Path, store: Path, out: Path, *extra: str):
    return cli("experiment", "table8", "--preset", spec, "--data", store, "--out", out, "--quiet", *extra)


def test_tiny_experiment_writes_both_tables_and_a_rerun_retrains_nothing(cli, exp_store, tiny_spec, tmp_path,
                                                                         monkeypatch):
    monkeypatch.setattr(features, "load_i3d", lambda weights, cache: CheapI3D())
    out = tmp_path / "exp"
    code, stdout, err = _table8(cli, tiny_spec, exp_store, out, "--metrics", "is,fid,fvd,swd", "--kimg", "0.048")
    assert code == 0, err
    results = json.loads((out / "results.json").read_text())
    md = (out / "results.md").read_text()
    assert results["runs_finished"] == results["runs_planned"] == 2
    assert [s["name"] for s in results["systems"]] == ["prog-swgan", "prog-wgan-gp"]
    for s in results["systems"]:
        run = out / "runs" / s["name"] / "seed0"
        scores = json.loads((run / "scores.json").read_text())
        trained = json.loads((run / "trained.json").read_text())
        assert trained["nimg"] == 48 and not trained["resumed"]  # the budget, the schedule scaled to it
        assert s["native_shape"] == s["score_shape"] == [4, 8, 8]
        for m in ("is", "fid", "fvd", "swd"):  # one seed: the mean is that run's value, no spread
            assert s["summary"][m]["mean"] == scores["metrics"][m] and s["summary"][m]["n"] == 1
            assert np.isfinite(scores["metrics"][m])
        assert f"| {s['label']} (`{s['name']}`) | 4x8x8 | 4x8x8 | 1 |" in md
    assert md.splitlines()[3] == results["command"] and results["command"].startswith("provgan experiment table8")
    assert "real clips at 4x8x8 (ceiling)" in md and results["ceilings"][0]["held_out"]
    assert "## Protocol" in md and "offline classifier" in md

    rewritten = ("results.json", "results.md", "experiment.json")
    kept = lambda folder: {k: v for k, v in _mtimes(folder).items() if k not in rewritten}  # noqa: E731
    folders = [out, out / "ceilings", *(out / "runs").glob("*/seed0")]
    before = [kept(f) for f in folders]
    code, _, err = _table8(cli, tiny_spec, exp_store, out, "--metrics", "is,fid,fvd,swd", "--kimg", "0.048")
    assert code == 0, err
    assert [kept(f) for f in folders] == before  # checkpoints, markers, scores, classifier untouched
    assert len(json.loads((out / "experiment.json").read_text())["starts"]) == 2


def test_kill_9_mid_experiment_then_rerun_resumes_without_retraining(cli, exp_store, tiny_spec, tmp_path):
    out = tmp_path / "exp"
    cmd = [sys.executable, "-m", "provgan", "experiment", "table8", "--preset", str(tiny_spec), "--data",
           str(exp_store), "--out", str(out), "--quiet"]
    first, second = out / "runs" / "prog-swgan" / "seed0", out / "runs" / "prog-wgan-gp" / "seed0"
    proc = subprocess.Popen(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600  # generous: a loaded machine is slow, a healthy run exits the loop early
    while time.time() < deadline and proc.poll() is None and not ckpt.list_checkpoints(second):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)  # the second system is training: ~18 of its 20 steps to go
    proc.wait()
    assert (first / "trained.json").is_file() and not (second / "trained.json").is_file()
    assert ckpt.list_checkpoints(second), "the kill must land after the second run's first checkpoint"
    finished = _mtimes(first)
    first_ckpt = ckpt.list_checkpoints(second)[0]
    started_at = first_ckpt.stat().st_mtime_ns

    code, _, err = _table8(cli, tiny_spec, exp_store, out)
    assert code == 0, err
    assert _mtimes(first) == finished  # the finished run: no file written or rewritten
    resumed = json.loads((second / "trained.json").read_text())
    assert resumed["resumed"] and 0 < resumed["segment_start_nimg"] < resumed["nimg"] == 80
    assert not first_ckpt.exists() or first_ckpt.stat().st_mtime_ns == started_at  # resumed, not restarted
    results = json.loads((out / "results.json").read_text())
    assert results["runs_finished"] == 2 and "| prog-wgan-gp seed 0 |" in (out / "results.md").read_text()


def test_dry_run_prints_plan_and_estimate_and_trains_nothing(cli, exp_store, tiny_spec, tmp_path):
    out = tmp_path / "exp"
    code, stdout, err = _table8(cli, tiny_spec, exp_store, out, "--dry-run")
    assert code == 0, err
    assert not out.exists()
    assert "2 systems x 1 seeds = 2 runs of 0.08 kimg" in stdout
    assert "prog-swgan seed 0" in stdout and "new" in stdout
    assert stdout.count("(timed)") == 3 and "still to run" in stdout  # two systems and the scoring


@pytest.mark.parametrize("args, expected", [
    (("--systems", "prog-swgan,vgann"), "unknown system 'vgann' (did you mean 'vgan'?)"),
    (("--metrics", "is,fidd"), "unknown metric(s) fidd"),
    (("--seeds", "0"), "seeds >= 1"),
    (("--protocol", "is-tgan17", "--dry-run"), None),
])
def test_bad_input_is_one_line(cli, exp_store, tiny_spec, tmp_path, args, expected):
    code, _, err = _table8(cli, tiny_spec, exp_store, tmp_path / "exp", *args)
    if expected is None:  # a named protocol is passed through, or refused in one line where not built
        from dataclasses import fields

        from provgan.metrics.evaluate import EvalOptions
        if "protocol" in {f.name for f in fields(EvalOptions)}:
            pytest.skip("named protocols exist: passing one through is covered by the metrics tests")
        expected = "protocol 'is-tgan17' needs named metric protocols"
    assert code == 2 and err.startswith("error: ") and "\n" not in err.strip(), err
    assert expected in err
    assert not (tmp_path / "exp").exists()


def test_a_system_not_built_yet_is_one_line(cli, exp_store, tiny_spec, tmp_path, monkeypatch):
    monkeypatch.setitem(systems_mod.SYSTEMS, "vgan", systems_mod.System("vgan", "VGAN", "no-such-preset",
                                                                        arch="vgan"))
    code, _, err = _table8(cli, tiny_spec, exp_store, tmp_path / "exp", "--systems", "vgan,prog-swgan")
    assert code == 2 and "\n" not in err.strip()
    assert "system 'vgan' is not built in this provgan" in err and "prog-swgan" in err


def test_a_run_started_with_other_settings_is_refused(cli, exp_store, tiny_spec, tmp_path):
    out = tmp_path / "exp"
    folder = out / "runs" / "prog-swgan" / "seed0"
    folder.mkdir(parents=True)
    from provgan.config import load_config, to_plain

    (folder / "planned.json").write_text(json.dumps(to_plain(load_config("tiny"))))
    code, _, err = _table8(cli, tiny_spec, exp_store, out, "--dry-run")
    assert code == 2 and "was started with other settings" in err and "\n" not in err.strip()


def test_a_run_planned_before_a_setting_existed_still_matches(tmp_path):
    """planned.json written by an older provgan lacks settings added since: they take their defaults,
    so the run resumes; a setting that really changed is still refused."""
    from types import SimpleNamespace

    from provgan.config import load_config, to_plain
    from provgan.errors import ProvganError
    from provgan.experiment.plan import check_planned

    cfg = load_config("tiny")
    saved = to_plain(cfg)
    del saved["model"]["temporal_std"], saved["model"]["latent_broadcast"]
    (tmp_path / "planned.json").write_text(json.dumps(saved))
    check_planned(SimpleNamespace(folder=tmp_path, config=cfg))
    changed = load_config("tiny", ["model.temporal_std=true"])
    with pytest.raises(ProvganError, match="model.temporal_std"):
        check_planned(SimpleNamespace(folder=tmp_path, config=changed))
