"""Mean and spread over seeds, and the tables built from them."""

import json
import math

import numpy as np
import pytest

from provgan.experiment.results import _json_safe, duration, main_table, mean_std, render_markdown, summarize


def test_mean_std_is_numpys_mean_and_sample_std():
    values = [13.59, 14.56, 12.1]
    got = mean_std(values)
    assert got["mean"] == pytest.approx(np.mean(values)) and got["n"] == 3
    assert got["std"] == pytest.approx(np.std(values, ddof=1))
    assert got["std"] == pytest.approx(math.sqrt(sum((v - sum(values) / 3) ** 2 for v in values) / 2))


def test_one_value_has_no_spread_and_non_finite_values_are_counted_not_averaged():
    assert math.isnan(mean_std([2.5])["std"]) and mean_std([2.5])["mean"] == 2.5
    got = mean_std([1.0, float("nan"), 3.0, None])
    assert (got["mean"], got["n"], got["non_finite"]) == (2.0, 2, 2)


def test_summarize_per_metric_over_the_runs_that_have_it():
    s = summarize([{"is": 2.0, "fid": 10.0}, {"is": 4.0}, {"is": 9.0, "fid": 20.0}])
    assert s["is"]["mean"] == pytest.approx(5.0) and s["is"]["std"] == pytest.approx(np.std([2, 4, 9], ddof=1))
    assert s["fid"]["n"] == 2 and s["fid"]["mean"] == 15.0


def _results():
    summary = {"is": mean_std([3.0, 5.0]), "fid": mean_std([1.5, 2.5])}
    system = {"name": "prog-swgan", "label": "ProgSWGAN", "preset": "digits-32", "overrides": ["loss.name=swgan"],
              "native_shape": [16, 32, 32], "score_shape": [16, 32, 32], "settings": {"loss": "swgan"},
              "runs": {"0": {"metrics": {"is": 3.0, "fid": 1.5}, "wall_s": 30.0, "clips_per_s": 2.0},
                       "1": {"metrics": {"is": 5.0, "fid": 2.5}, "wall_s": 90.0, "clips_per_s": 4.0,
                             "resumed": True}},
              "summary": summary, "wall_s": mean_std([30.0, 90.0]), "clips_per_s": mean_std([2.0, 4.0])}
    return {"command": "provgan experiment table8 --data d --out o", "experiment": "x", "updated": "now",
            "machine": "cpu", "budget_kimg": 16.0, "seeds": [0, 1], "metrics": ["is", "fid"], "runs_planned": 2,
            "runs_finished": 2, "protocol": {"clips_per_side": 128, "feature_networks": {"is": "clf"}},
            "systems": [system],
            "ceilings": [{"native_shape": [16, 32, 32], "score_shape": [16, 32, 32],
                          "metrics": {"is": 24.1, "fid": 0.5}}]}


def test_the_main_table_has_mean_pm_std_per_system_and_a_ceiling_row():
    lines = main_table(_results())
    assert lines[0] == "| system | trained at | scored at | seeds | IS ↑ | FID ↓ | train time / run | clips/s |"
    sd = np.std([3.0, 5.0], ddof=1)
    assert lines[2] == (f"| ProgSWGAN (`prog-swgan`) | 16x32x32 | 16x32x32 | 2 | 4.00 ± {sd:.2f} | "
                        f"2.00 ± {np.std([1.5, 2.5], ddof=1):.2f} | 1.0 min | 3.00 |")
    assert lines[3] == "| real clips at 16x32x32 (ceiling) | 16x32x32 | 16x32x32 | - | 24.10 | 0.50 | - | - |"


def test_markdown_starts_with_the_command_and_json_is_strict():
    text = render_markdown(_results())
    assert text.splitlines()[:5] == ["# Experiment table8: x", "", "```bash",
                                     "provgan experiment table8 --data d --out o", "```"]
    assert "| prog-swgan seed 1 | 5.00 | 2.50 | 1.5 min | 4.00 | yes |" in text
    assert "  - is: clf" in text
    strict = json.dumps(_json_safe({"a": [float("nan"), 1.0], "b": float("inf")}), allow_nan=False)
    assert json.loads(strict) == {"a": [None, 1.0], "b": None}


def test_duration_units():
    assert [duration(s) for s in (None, float("nan"), 42.4, 378.0, 9000.0)] == ["-", "-", "42 s", "6.3 min", "2.50 h"]


def test_build_results_aggregates_each_system_over_its_seeds(exp_store, spec_file, tmp_path):
    from provgan.experiment.plan import make_plan
    from provgan.experiment.results import build_results
    from provgan.experiment.spec import load_spec

    spec = load_spec(str(spec_file(seeds=3)))
    plan = make_plan(spec, exp_store, tmp_path / "exp", "provgan experiment table8 ...")
    fid = {"prog-swgan": [3.0, 4.5, 9.0], "prog-wgan-gp": [1.0, 2.0]}  # the third wgan-gp seed not done
    records = {}
    for name, values in fid.items():
        for seed, v in enumerate(values):
            records[f"{name} seed {seed}"] = {"metrics": {"fid": v, "is": 2.0 * v}, "wall_s": 10.0 * (seed + 1),
                                              "clips_per_s": 8.0}
    results = build_results(plan, {"clips_per_side": 8}, records, [])
    assert results["runs_planned"] == 6 and results["runs_finished"] == 5
    for s in results["systems"]:
        values = fid[s["name"]]
        assert s["summary"]["fid"]["mean"] == pytest.approx(np.mean(values))
        assert s["summary"]["fid"]["std"] == pytest.approx(np.std(values, ddof=1))
        assert s["summary"]["is"]["std"] == pytest.approx(np.std(2.0 * np.array(values), ddof=1))
        assert s["wall_s"]["mean"] == pytest.approx(np.mean([10.0 * (i + 1) for i in range(len(values))]))
        assert sorted(s["runs"]) == [str(i) for i in range(len(values))]


def test_each_system_reports_the_optimizers_it_trains_with():
    """A baseline's optimizers are its own (TGAN's RMSprop 5e-5, MoCoGAN's Adam with weight decay), not
    cfg.optim's Adam; a progressive system reports the schedule's lr and betas."""
    from provgan.config import load_config
    from provgan.experiment.results import system_settings

    tgan = system_settings(load_config("tgan-digits"))
    assert tgan["optimizers"]["G"].startswith("rmsprop lr 5e-05") and "lr" not in tgan
    assert all(v.startswith("rmsprop") for v in tgan["optimizers"].values()) and tgan["arch"] == "tgan"
    moco = system_settings(load_config("mocogan-digits"))
    assert set(moco["optimizers"]) == {"G", "D_image", "D_video"}
    assert all(v == "adam lr 0.0002 betas (0.5, 0.999) wd 1e-05" for v in moco["optimizers"].values())
    prog = system_settings(load_config("digits-32"))
    assert prog["optimizer"] == "adam" and prog["lr"] == 0.005 and prog["adam_betas"] == [0.0, 0.99]
    assert "optimizers" not in prog and prog["arch"] == "progressive"
