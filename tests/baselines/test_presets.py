"""The baseline presets: each builds its network at its plan, and its settings are the original's."""

from __future__ import annotations

from pathlib import Path

import pytest

import provgan
from provgan.baselines.builders import BUILDERS, build_baseline
from provgan.config import deep_merge, yaml_load

PRESETS = Path(provgan.__file__).parent / "baselines" / "presets"
NAMES = [f"{arch}{suffix}" for arch in BUILDERS for suffix in ("", "-digits")]


def raw_preset(name: str) -> dict:
    """The preset's YAML with its ``base:`` merged in (as provgan.config resolves it)."""
    data = yaml_load((PRESETS / f"{name}.yaml").read_text())
    base = data.pop("base", None)
    return deep_merge(raw_preset(base), data) if base else data


@pytest.mark.parametrize("name", NAMES)
def test_preset_builds_its_network_with_its_own_settings(name):
    p = raw_preset(name)
    model, arch = p["model"], p["model"]["arch"]
    assert name.split("-")[0] == arch
    parts = build_baseline(arch, tuple(model["plan"][-1]), 3, 1 / 16, model["options"])
    assert len(model["plan"]) == 1  # one level: no growth, no fade
    assert parts.loss == p["loss"]["name"]
    assert parts.g_optimizer.lr == p["schedule"]["lr_default"]
    assert all(c.optimizer.lr == p["schedule"]["lr_default"] for c in parts.critics.values())
    if parts.g_optimizer.name == "adam":
        assert parts.g_optimizer.betas == (p["optim"]["beta1"], p["optim"]["beta2"])
    assert p["optim"]["ema_beta"] == 0.0 and p["optim"]["d_lr_mult"] == 1.0 and p["optim"]["n_critic"] == 1
    assert p["data"]["mirror"] is False
    assert p["run"]["precision"] == "fp32"  # as the originals; bf16 was slower here (README)


def test_native_and_digits_settings():
    assert raw_preset("vgan")["model"]["plan"] == [[32, 64, 64]]
    assert raw_preset("tgan")["model"]["plan"] == raw_preset("mocogan")["model"]["plan"] == [[16, 64, 64]]
    batches = {arch: raw_preset(arch)["schedule"]["minibatch_default"] for arch in BUILDERS}
    assert batches == {"vgan": 64, "tgan": 32, "mocogan": 32}
    kimg = {arch: raw_preset(arch)["schedule"]["total_kimg"] for arch in BUILDERS}
    assert kimg == {"vgan": 4160, "tgan": 3200, "mocogan": 3200}
    for arch in BUILDERS:
        native, digits = raw_preset(arch), raw_preset(f"{arch}-digits")
        assert digits["model"]["plan"] == [[16, 32, 32]] and digits["model"]["width"] == 0.5
        assert digits["model"]["options"] == native["model"]["options"]
        assert digits["loss"] == native["loss"] and digits["optim"] == native["optim"]
