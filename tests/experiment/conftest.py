"""A tiny labelled store and a tiny two-system experiment preset (seconds per run on a CPU)."""

from pathlib import Path

import pytest
import yaml

from conftest import FAST_OVERRIDES  # noqa: E402  (tests/train is on sys.path via the root conftest)

SYSTEMS = ("prog-swgan", "prog-wgan-gp")


@pytest.fixture(scope="session")
def exp_store(tmp_path_factory) -> Path:
    """48 moving-digits clips at the tiny plan's shapes (4x4x4, 4x8x8, 8x16x16), labelled."""
    from provgan.data.prepare import prepare_builtin

    out = tmp_path_factory.mktemp("exp-store") / "digits"
    prepare_builtin("moving-digits", out, "tiny", num_clips=48, seed=1)
    return out


def write_spec(path: Path, **changes) -> Path:
    """The tiny experiment: both progressive systems on the fast tiny config, 8 clips per side."""
    spec = {"kimg": 0.08, "seeds": 1, "systems": list(SYSTEMS), "metrics": ["is", "fid", "swd"],
            "overrides": FAST_OVERRIDES + ["run.precision=fp32", "run.device=cpu"],
            "system": {name: {"preset": "tiny"} for name in SYSTEMS},
            "eval": {"num": 8, "batch": 4, "is_splits": 1}, "classifier": {"epochs": 1, "width": 4}}
    spec.update(changes)
    path.write_text(yaml.safe_dump(spec))
    return path


@pytest.fixture
def tiny_spec(tmp_path) -> Path:
    return write_spec(tmp_path / "tiny-experiment.yaml")


@pytest.fixture
def spec_file(tmp_path):
    """``spec_file(**changes)``: the tiny experiment with some keys changed, as a file."""
    return lambda **changes: write_spec(tmp_path / "experiment.yaml", **changes)
