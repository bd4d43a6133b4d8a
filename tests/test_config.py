import pytest

from provgan.config import (Config, architecture_diff, load_config, parse_overrides, preset_names, to_plain,
                            yaml_load)
from provgan.errors import ConfigError


def test_presets_load_and_validate():
    assert {"thesis-256", "ucf101-128", "digits-32", "digits-64", "tiny"} <= set(preset_names())
    for name in preset_names():
        cfg = load_config(name)
        assert cfg.name == name
        assert cfg.model.arch != "progressive" or len(cfg.model.g_channels) == len(cfg.model.plan)


def test_thesis_plan_is_table_a1():
    cfg = load_config("thesis-256")
    assert cfg.model.plan == ((4, 4, 4), (8, 8, 8), (8, 16, 16), (8, 32, 32), (16, 64, 64), (16, 128, 128),
                              (32, 256, 256))
    assert cfg.model.g_channels == (128, 128, 128, 64, 32, 16, 8)
    assert cfg.model.latent_dim == 128


def test_reference_plan_doubles_time_at_8_32_128():
    plan = load_config("ucf101-128").model.plan
    t_doubles_at = [plan[i][1] for i in range(1, len(plan)) if plan[i][0] == 2 * plan[i - 1][0]]
    assert t_doubles_at == [8, 32, 128]
    assert plan[-1] == (32, 128, 128)


def test_unknown_key_names_key_and_closest():
    with pytest.raises(ConfigError, match=r"unknown key 'schedule.stable_kim'.*did you mean 'stable_kimg'"):
        load_config("tiny", ["schedule.stable_kim=3"])
    with pytest.raises(ConfigError, match=r"unknown key 'modle'.*'model'"):
        load_config("tiny", ["modle.latent_dim=3"])


def test_wrong_types_are_one_line_errors():
    with pytest.raises(ConfigError, match="model.latent_dim: expected an integer"):
        load_config("tiny", ["model.latent_dim=abc"])
    with pytest.raises(ConfigError, match="data.mirror: expected true or false"):
        load_config("tiny", ["data.mirror=3"])
    with pytest.raises(ConfigError, match="loss.name 'swgn'.*did you mean 'swgan'"):
        load_config("tiny", ["loss.name=swgn"])


@pytest.mark.parametrize("plan, message", [
    ("[[4,4,4],[4,8,6]]", "must double H and W"),
    ("[[4,4,4],[12,8,8]]", "must keep T or double it"),
    ("[[4,4,4],[2,8,8]]", "must keep T or double it"),
    ("[]", "empty"),
])
def test_invalid_plans(plan, message):
    with pytest.raises(ConfigError, match=message):
        load_config("tiny", [f"model.plan={plan}", "model.g_channels=[8]"])


def test_channels_must_match_plan():
    with pytest.raises(ConfigError, match="g_channels has 2 entries but model.plan has 3"):
        load_config("tiny", ["model.g_channels=[8,8]"])


def test_overrides_reach_config_and_roundtrip():
    cfg = load_config("tiny", ["loss.name=wgan-gp", "schedule.stable_kimg=2.5", "run.seed=7"])
    assert (cfg.loss.name, cfg.schedule.stable_kimg, cfg.run.seed) == ("wgan-gp", 2.5, 7)
    from provgan.config import config_from_dict
    assert config_from_dict(to_plain(cfg)) == cfg


def test_yaml_file_with_base(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: tiny\nloss: {name: hinge}\n")
    cfg = load_config(str(path))
    assert cfg.loss.name == "hinge" and cfg.model == load_config("tiny").model and cfg.name == "mine"
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(str(tmp_path / "missing.yaml"))


def test_parse_overrides_requires_equals():
    assert parse_overrides(["a.b=1", "a.c=x"]) == {"a": {"b": 1, "c": "x"}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_overrides(["nonsense"])


def test_architecture_diff_names_keys():
    a, b = load_config("tiny"), load_config("tiny", ["model.latent_dim=32", "loss.name=wgan-gp"])
    assert architecture_diff(a, b) == ["model.latent_dim", "loss.name"]
    assert architecture_diff(a, load_config("tiny", ["run.seed=3"])) == []
    assert isinstance(Config(), Config)


@pytest.mark.parametrize("text, expected", [
    ("1e-3", 0.001), ("-.5e2", -50.0), ("3.", 3.0), ("12", 12), ("1_000", 1000), ("0x1f", 31),
    ("1:30", "1:30"),  # YAML 1.1 would read the base-60 int 90
    ("{4: 16}", {4: 16}), ("[4, 8, 8]", [4, 8, 8]), ("true", True), ("swgan", "swgan"),
])
def test_yaml_numbers_follow_yaml_1_2(text, expected):
    assert yaml_load(text) == expected
    assert type(yaml_load(text)) is type(expected)


def test_override_without_space_after_colon_says_so():
    with pytest.raises(ConfigError, match=r"'4:16' has no value.*space after the colon: \{4: 16\}"):
        load_config("digits-32", ["schedule.minibatch={4:16}"])
    assert load_config("digits-32", ["schedule.minibatch={4: 32}"]).schedule.minibatch[4] == 32


def test_float_written_with_exponent_in_a_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("base: tiny\nschedule:\n  lr_default: 2e-3\n")
    assert load_config(str(path)).schedule.lr_default == 0.002
