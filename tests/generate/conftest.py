import importlib.util
import sys
from pathlib import Path

import pytest


def load_helper(name: str, path: Path):
    """Import a helper file under a unique name, without putting a conftest folder on sys.path
    (tests/train imports its own ``conftest`` by name)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


tiny_run_module = load_helper("provgan_tests_tiny_run", Path(__file__).parent / "tiny_run.py")
TinyRun, tiny_run = tiny_run_module.TinyRun, tiny_run_module.tiny_run


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TinyRun:
    """A real 3-level run folder (checkpoints, stats, samples) and its store."""
    return tiny_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sampler(trained):
    from provgan.train.checkpoint import load_sampler

    return load_sampler(trained.run)
