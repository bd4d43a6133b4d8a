"""Experiment presets: both shipped presets load, keys are checked, the command line overrides."""

import pytest

from provgan.config import ConfigError
from provgan.experiment.spec import experiment_presets, load_spec, with_options


def test_shipped_presets_load_with_all_five_systems_and_three_seeds():
    assert experiment_presets() == ["digits-small", "ucf101-thesis"]
    small, ucf = load_spec("digits-small"), load_spec("ucf101-thesis")
    for spec in (small, ucf):
        assert spec.systems == ("vgan", "tgan", "mocogan", "prog-wgan-gp", "prog-swgan") and spec.seeds == 3
    assert small.metrics == ("is", "fid", "fvd", "swd") and small.eval.features == "classifier"
    assert small.resolved_system("prog-swgan").preset == "digits-32"
    assert small.resolved_system("prog-swgan").overrides == ("loss.name=swgan",)
    assert ucf.eval.features == "c3d" and ucf.eval.protocol == "thesis" and ucf.eval.num == 0
    assert ucf.resolved_system("tgan").score_shape == (32, 128, 128)
    assert ucf.resolved_system("prog-swgan").score_shape is None  # its own top level, 32x128x128


def test_unknown_key_names_the_closest(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text("kimg: 2\nseed: 3\n")
    with pytest.raises(ConfigError, match=r"unknown key 'experiment.seed' \(did you mean 'seeds'\?\)"):
        load_spec(str(path))
    path.write_text("system: {vgann: {preset: tiny}}\n")
    with pytest.raises(ConfigError, match="unknown system 'vgann'"):
        load_spec(str(path))
    with pytest.raises(ConfigError, match="unknown experiment preset 'digits'"):
        load_spec("digits")


def test_command_line_values_override_the_preset():
    spec = with_options(load_spec("digits-small"), kimg=4.0, seeds=2, systems="prog-swgan", metrics="swd,IS",
                        overrides=("run.device=cpu",), eval_num=64, eval_protocol=None)
    assert (spec.kimg, spec.seeds, spec.systems, spec.metrics, spec.eval.num) == (4.0, 2, ("prog-swgan",),
                                                                               ("swd", "is"), 64)
    assert spec.overrides[-1] == "run.device=cpu" and spec.overrides[0] == "data.mirror=false"
    with pytest.raises(ConfigError, match="eval.num must be 0"):
        with_options(spec, eval_num=1)
