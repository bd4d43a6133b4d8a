import provgan_tests_tiny_run as tiny_run_module  # registered by tests/conftest.py
import pytest

TinyRun, tiny_run = tiny_run_module.TinyRun, tiny_run_module.tiny_run


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TinyRun:
    """A real 3-level run folder (checkpoints, stats, samples) and its store."""
    return tiny_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sampler(trained):
    from provgan.train.checkpoint import load_sampler

    return load_sampler(trained.run)
