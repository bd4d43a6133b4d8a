"""The system table: names, the not-yet-built error, the shared budget and the scaled schedule."""

import pytest

from provgan.config import ConfigError, load_config
from provgan.experiment.systems import (SYSTEMS, System, fit_budget, parse_systems, require_runnable,
                                        run_config)
from provgan.levels import level_spans, level_timeline, position_at


def test_the_table_holds_the_five_systems_of_table_8_1():
    assert list(SYSTEMS) == ["vgan", "tgan", "mocogan", "prog-wgan-gp", "prog-swgan"]
    assert SYSTEMS["prog-wgan-gp"].overrides == ("loss.name=wgan-gp",)
    assert SYSTEMS["prog-swgan"].overrides == ("loss.name=swgan",)
    assert {SYSTEMS[n].arch for n in ("vgan", "tgan", "mocogan")} == {"vgan", "tgan", "mocogan"}


def test_parse_systems_keeps_order_drops_duplicates_and_names_the_closest():
    assert parse_systems(" prog-swgan,PROG-WGAN-GP,prog-swgan ") == ("prog-swgan", "prog-wgan-gp")
    with pytest.raises(ConfigError, match=r"unknown system 'mocogn' \(did you mean 'mocogan'\?\)"):
        parse_systems("mocogn")
    with pytest.raises(ConfigError, match="no systems given"):
        parse_systems(" , ")


def test_a_baseline_without_its_preset_is_one_line():
    missing = System("vgan", "VGAN", "no-such-preset", arch="vgan")
    with pytest.raises(ConfigError) as err:
        require_runnable(missing)
    assert "not built in this provgan" in str(err.value) and "prog-swgan" in str(err.value)
    assert require_runnable(SYSTEMS["prog-swgan"]) is SYSTEMS["prog-swgan"]


def test_fit_budget_scales_every_phase_so_the_top_level_ends_at_full_strength():
    cfg = load_config("digits-32")  # ends as 16x32x32 finishes fading in
    assert cfg.schedule.total_kimg != 14.0
    fitted = fit_budget(cfg, 14.0)
    f = 14.0 / cfg.schedule.total_kimg
    assert fitted.schedule.total_kimg == 14.0
    assert fitted.schedule.stable == {k: v * f for k, v in cfg.schedule.stable.items()}
    assert fitted.schedule.fade == {k: v * f for k, v in cfg.schedule.fade.items()}
    before, after = level_timeline(cfg.model.plan, cfg.schedule), level_timeline(fitted.model.plan, fitted.schedule)
    for (lv, *kimgs), (lv2, *kimgs2) in zip(before, after):  # the same proportions, to whole clips
        assert lv == lv2 and kimgs2 == pytest.approx([k * f for k in kimgs], abs=1e-3)
    spans = level_spans(fitted.model.plan, fitted.schedule)
    assert spans[-1].stable_start == spans[-1].end == 14000  # the top fade ends with the budget
    assert position_at(13.999, fitted.model.plan, fitted.schedule).level == len(cfg.model.plan) - 1


def test_fit_budget_on_a_one_level_plan_only_sets_the_total():
    cfg = load_config("tiny", ["model.plan=[[8,16,16]]", "model.g_channels=[8]"])
    fitted = fit_budget(cfg, 3.0)
    assert fitted.schedule.total_kimg == 3.0 and fitted.schedule.stable_kimg == cfg.schedule.stable_kimg


def test_run_config_applies_system_and_shared_overrides_budget_and_seed():
    system = System("prog-wgan-gp", "ProgVGAN", "tiny", ("loss.name=wgan-gp",))
    cfg = run_config(system, ["data.mirror=false"], 0.5, seed=2)
    assert (cfg.loss.name, cfg.data.mirror, cfg.run.seed, cfg.schedule.total_kimg) == ("wgan-gp", False, 2, 0.5)
    with pytest.raises(ConfigError, match="system prog-wgan-gp: unknown key 'loss.nam'"):
        run_config(system, ["loss.nam=ns"], 0.5, 0)
    with pytest.raises(ConfigError, match="builds model.arch progressive, not vgan"):
        run_config(System("vgan", "VGAN", "tiny", arch="vgan"), [], 0.5, 0)
