import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from tiny_run import TinyRun, tiny_run  # noqa: E402


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> TinyRun:
    """A real 3-level run folder (checkpoints, stats, samples) and its store."""
    return tiny_run(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def sampler(trained):
    from provgan.train.checkpoint import load_sampler

    return load_sampler(trained.run)


@pytest.fixture
def cli(capsys):
    """Run ``provgan ARGS`` in this process; returns (exit status, stdout, stderr)."""
    from provgan.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out = capsys.readouterr()
        return code, out.out, out.err
    return run
